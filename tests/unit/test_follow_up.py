"""Follow-ups («¿y el Expert?», «¿y la retención?») re-ask the previous question with what changed."""

from __future__ import annotations

from bot.answers.dispatch import answer
from bot.answers.question import Question
from bot.answers.reply import Context, Reply
from bot.catalogue.models import Catalogue
from bot.nlu.resolve import Mentions, Resolver


def follow_up(catalogue: Catalogue, context: Context, mentions: Mentions, text: str = "") -> Reply:
    return answer(catalogue, Question("follow_up", text, mentions, context))


def said(reply: Reply) -> str:
    return "\n".join(m.text for m in reply.messages)


USERS_OF_SPECIALIST = Context(topic="ask_feature_value", plans=("specialist",), features=("users",))


def test_other_plan_same_feature(catalogue: Catalogue) -> None:
    reply = follow_up(catalogue, USERS_OF_SPECIALIST, Mentions(plans=("expert",)))
    text = said(reply)
    assert "Usuarios en el plan Expert: 30 usuarios" in text
    assert "Specialist" not in text
    assert reply.context == Context(topic="ask_feature_value", plans=("expert",), features=("users",))


def test_other_feature_keeps_the_plan(catalogue: Catalogue) -> None:
    reply = follow_up(catalogue, USERS_OF_SPECIALIST, Mentions(features=("data_retention",)))
    text = said(reply)
    assert "Retención de datos en el plan Specialist: 6 meses" in text
    assert reply.context == Context(
        topic="ask_feature_value", plans=("specialist",), features=("data_retention",)
    )


def test_other_feature_missing_in_the_plan(catalogue: Catalogue) -> None:
    text = said(follow_up(catalogue, USERS_OF_SPECIALIST, Mentions(features=("flow_map",))))
    assert text.startswith("No, el plan Specialist no incluye Mapa de flujos")
    assert "desde el plan Expert" in text


def test_chain_of_follow_ups(catalogue: Catalogue) -> None:
    first = follow_up(catalogue, USERS_OF_SPECIALIST, Mentions(plans=("professional",)))
    assert first.context is not None
    second = follow_up(catalogue, first.context, Mentions(features=("storage",)))
    assert "Almacenamiento para informes, plantillas y archivos en el plan Professional: 5 GB" in said(second)
    assert second.context is not None
    third = follow_up(catalogue, second.context, Mentions(plans=("enterprise",)))
    assert "plan Enterprise: bajo consulta" in said(third)


def test_follow_up_from_feature_plans_with_a_plan_asks_its_value(catalogue: Catalogue) -> None:
    context = Context(topic="ask_feature_plans", features=("active_bots",))
    reply = follow_up(catalogue, context, Mentions(plans=("expert",)))
    assert "Bots activos en el plan Expert: 10 bots activos" in said(reply)
    assert reply.context is not None
    assert reply.context.topic == "ask_feature_value"


def test_follow_up_from_feature_plans_with_a_feature(catalogue: Catalogue) -> None:
    context = Context(topic="ask_feature_plans", features=("active_bots",))
    text = said(follow_up(catalogue, context, Mentions(features=("interactionz",))))
    assert "Expert: 2.000 InteractionZ" in text


def test_follow_up_of_a_comparison_adds_the_plan(catalogue: Catalogue) -> None:
    context = Context(topic="compare_plans", plans=("starter", "expert"))
    reply = follow_up(catalogue, context, Mentions(plans=("professional",)))
    assert "Diferencias entre Starter, Expert y Professional" in said(reply)
    assert reply.context is not None
    assert reply.context.plans == ("starter", "expert", "professional")


def test_follow_up_of_a_summary(catalogue: Catalogue) -> None:
    context = Context(topic="plan_summary", plans=("starter",))
    text = said(follow_up(catalogue, context, Mentions(plans=("enterprise",))))
    assert text.startswith("Plan Enterprise:")
    assert "usuarios ilimitados" in text


def test_follow_up_of_a_price(catalogue: Catalogue) -> None:
    context = Context(topic="ask_price", plans=("expert",))
    text = said(follow_up(catalogue, context, Mentions(plans=("enterprise",))))
    assert "El plan Enterprise es bajo consulta" in text


def test_follow_up_of_channels(catalogue: Catalogue) -> None:
    context = Context(topic="ask_channels", plans=("starter",))
    text = said(follow_up(catalogue, context, Mentions(plans=("specialist",))))
    assert "Multicanalidad en el plan Specialist" in text
    assert "WhatsApp Business" in text.split("canales de servicio")[1]


# --- Without a usable context the mentions choose the topic ----------------------------------------------


def test_no_context_plan_and_feature(catalogue: Catalogue) -> None:
    reply = follow_up(catalogue, Context(), Mentions(plans=("expert",), features=("users",)))
    assert "30 usuarios" in said(reply)
    assert reply.context is not None
    assert reply.context.topic == "ask_feature_value"


def test_no_context_plan_gives_its_summary(catalogue: Catalogue) -> None:
    reply = follow_up(catalogue, Context(), Mentions(plans=("expert",)))
    assert said(reply).startswith("Plan Expert:")
    assert reply.context is not None
    assert reply.context.topic == "plan_summary"


def test_no_context_feature_gives_it_in_every_plan(catalogue: Catalogue) -> None:
    reply = follow_up(catalogue, Context(), Mentions(features=("storage",)))
    text = said(reply)
    for fact in ("300 MB", "1 GB", "2 GB", "5 GB", "bajo consulta"):
        assert fact in text
    assert reply.context is not None
    assert reply.context.topic == "ask_feature_plans"


def test_no_context_channel(catalogue: Catalogue) -> None:
    reply = follow_up(catalogue, Context(), Mentions(channels=("instagram",)))
    assert "Instagram Messenger: disponible para atención al cliente y chatbots" in said(reply)
    assert reply.context is not None
    assert reply.context.topic == "ask_channels"


def test_no_context_nothing_named_asks_to_rephrase(catalogue: Catalogue) -> None:
    reply = follow_up(catalogue, Context(), Mentions())
    assert "otra forma" in said(reply)


def test_topic_that_cannot_be_reasked_uses_the_mentions(catalogue: Catalogue) -> None:
    context = Context(topic="ask_invoice")
    reply = follow_up(catalogue, context, Mentions(plans=("starter",)))
    assert said(reply).startswith("Plan Starter:")


def test_reaskable_topic_and_nothing_new_repeats_the_answer(catalogue: Catalogue) -> None:
    reply = follow_up(catalogue, USERS_OF_SPECIALIST, Mentions())
    assert "Usuarios en el plan Specialist: 10 usuarios" in said(reply)


def test_follow_up_with_resolved_text(catalogue: Catalogue, resolver: Resolver) -> None:
    """The whole path: '¿y el expret?' typed with a typo after a question about users of Specialist."""
    text = "¿y el expret?"
    reply = follow_up(catalogue, USERS_OF_SPECIALIST, resolver.mentions([], text), text)
    assert "Usuarios en el plan Expert: 30 usuarios" in said(reply)
    text = "¿y la retension de datos?"
    reply = follow_up(catalogue, USERS_OF_SPECIALIST, resolver.mentions([], text), text)
    assert "Retención de datos en el plan Specialist: 6 meses" in said(reply)


def test_comparison_waiting_for_a_second_plan(catalogue: Catalogue) -> None:
    """«Compara el Expert» asks for another plan; «¿con el Starter?» completes the comparison."""
    pending = answer(catalogue, Question("compare_plans", "", Mentions(plans=("expert",))))
    assert pending.context == Context(topic="compare_plans", plans=("expert",))
    reply = follow_up(catalogue, pending.context, Mentions(plans=("starter",)))
    text = said(reply)
    assert "Diferencias entre Starter y Expert" in text
    assert "Usuarios: Starter 1 usuario · Expert 30 usuarios" in text


def test_follow_up_does_not_keep_the_old_context_inside(catalogue: Catalogue) -> None:
    # The re-asked question gets a clean context: compare_plans must not add the old plans again.
    context = Context(topic="compare_plans", plans=("starter", "expert"))
    reply = follow_up(catalogue, context, Mentions(plans=("expert",)))
    assert reply.context == Context(topic="compare_plans", plans=("starter", "expert"))
    assert "Diferencias entre Starter y Expert" in said(reply)

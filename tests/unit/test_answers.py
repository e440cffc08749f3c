"""Answers for every intent: facts from the page in the reply text, and properties of every message."""

from __future__ import annotations

import itertools
import re

import pytest

from bot.answers.dispatch import ANSWERS, answer
from bot.answers.question import Question
from bot.answers.reply import WHATSAPP_LIMIT, Context, Reply
from bot.catalogue.models import Catalogue
from bot.nlu.resolve import Mentions

PLANS = ("starter", "specialist", "expert", "professional", "enterprise")


def ask(
    catalogue: Catalogue,
    intent: str,
    text: str = "",
    *,
    plans: tuple[str, ...] = (),
    features: tuple[str, ...] = (),
    channels: tuple[str, ...] = (),
    context: Context | None = None,
) -> Reply:
    question = Question(intent, text, Mentions(plans, features, channels), context or Context())
    return answer(catalogue, question)


def said(reply: Reply) -> str:
    """All the text of a reply."""
    return "\n".join(m.text for m in reply.messages)


def bullets(reply: Reply) -> list[str]:
    return [line[2:] for line in said(reply).splitlines() if line.startswith("• ")]


# --- Every intent has an example, and every example answers sensibly ---------------------------------

EXAMPLES: dict[str, dict[str, object]] = {
    "ask_feature_value": {"plans": ("expert",), "features": ("users",)},
    "ask_feature_plans": {"features": ("enterprise_sso",)},
    "compare_plans": {"plans": ("expert", "professional")},
    "plan_summary": {"plans": ("expert",)},
    "list_plans": {},
    "recommend_plan": {"text": "somos 12 usuarios"},
    "ask_price": {"plans": ("enterprise",)},
    "explain_interactionz": {},
    "explain_users": {},
    "ask_overage": {},
    "ask_channels": {"plans": ("starter",)},
    "ask_channels_package": {},
    "ask_payment_methods": {},
    "ask_add_card": {},
    "card_problem": {},
    "ask_invoice": {},
    "how_to_contract": {},
    "bot_capabilities": {},
    "ask_contracts_access": {},
    "share_card_data": {"text": "mi tarjeta es 4111 1111 1111 1111, vence 12/27, cvv 123"},
    "ask_contract_status": {},
    "ask_financial_info": {},
    "ask_card_on_file": {},
}

# A fact from the page that the example's answer must state.
EXPECTED: dict[str, tuple[str, ...]] = {
    "ask_feature_value": ("30 usuarios", "Expert"),
    "ask_feature_plans": ("Enterprise Single Sign On", "Enterprise"),
    "compare_plans": ("30 usuarios", "50 usuarios"),
    "plan_summary": ("30 usuarios", "2.000 InteractionZ"),
    "list_plans": ("Starter", "Specialist", "Expert", "Professional", "Enterprise"),
    "recommend_plan": ("Expert",),
    "ask_price": ("bajo consulta",),
    "explain_interactionz": ("créditos de interacción",),
    "explain_users": ("licencias",),
    "ask_overage": ("se cobran por separado",),
    "ask_channels": ("Instagram", "Facebook Messenger", "Webchat"),
    "ask_channels_package": ("no se acumula",),
    "ask_payment_methods": ("tarjeta de crédito", "invoice"),
    "ask_add_card": ("Agregar tarjeta",),
    "card_problem": ("CVV",),
    "ask_invoice": ("un mes",),
    "how_to_contract": ("sitio web de Zenvia",),
    "bot_capabilities": ("Starter, Specialist, Expert, Professional y Enterprise",),
    "ask_contracts_access": ("Ajustes > Planes y contratos",),
    "share_card_data": ("no compartas",),
    "ask_contract_status": ("Admin",),
    "ask_financial_info": ("Admin",),
    "ask_card_on_file": ("Admin",),
}


def test_every_intent_has_an_example() -> None:
    assert set(EXAMPLES) == set(ANSWERS)
    assert set(EXPECTED) == set(ANSWERS)


@pytest.mark.parametrize("intent", sorted(EXAMPLES))
def test_example_of_each_intent(catalogue: Catalogue, intent: str) -> None:
    reply = ask(catalogue, intent, **EXAMPLES[intent])  # type: ignore[arg-type]
    assert reply.messages
    text = said(reply)
    for fact in EXPECTED[intent]:
        assert fact in text, (intent, fact, text)
    assert "Perdona, no estoy seguro" not in text


def test_unknown_intent_falls_back(catalogue: Catalogue) -> None:
    context = Context(topic="plan_summary", plans=("expert",))
    reply = ask(catalogue, "nlu_fallback", context=context)
    assert "otra forma" in said(reply)
    assert reply.context == context


# --- ask_feature_value -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("plan", "feature", "facts"),
    [
        ("starter", "users", ("1 usuario", "se cobran por separado")),
        ("specialist", "users", ("10 usuarios",)),
        ("expert", "users", ("30 usuarios",)),
        ("professional", "users", ("50 usuarios",)),
        ("enterprise", "users", ("ilimitado",)),
        ("starter", "interactionz", ("100 InteractionZ",)),
        ("expert", "interactionz", ("2.000 InteractionZ",)),
        ("professional", "interactionz", ("5.000 InteractionZ",)),
        ("expert", "active_bots", ("10 bots activos",)),
        ("starter", "active_bots", ("1 bot activo",)),
        ("professional", "active_bots", ("ilimitado",)),
        ("expert", "api_rate_limit", ("hasta 15 solicitudes por segundo",)),
        ("enterprise", "api_rate_limit", ("bajo consulta",)),
        ("starter", "external_api_calls", ("150.000",)),
        ("professional", "external_api_calls", ("750.000",)),
        ("starter", "data_retention", ("3 meses",)),
        ("professional", "data_retention", ("6 meses", "24 meses offline")),
        ("enterprise", "data_retention", ("bajo consulta",)),
        ("starter", "storage", ("300 MB",)),
        ("specialist", "storage", ("1 GB",)),
        ("expert", "storage", ("2 GB",)),
        ("professional", "storage", ("5 GB",)),
        ("enterprise", "storage", ("bajo consulta",)),
        ("starter", "contacts", ("Sí", "1.000 contactos")),
        ("starter", "report_export", ("Sí", "solamente informes de envíos")),
        ("expert", "sla", ("12 horas",)),
        ("professional", "sla", ("4 horas",)),
        ("enterprise", "enterprise_sso", ("Sí",)),
        ("enterprise", "account_manager", ("Sí",)),
        ("expert", "flow_map", ("Sí",)),
        ("professional", "generative_ai_answers", ("Sí",)),
    ],
)
def test_feature_value_facts(catalogue: Catalogue, plan: str, feature: str, facts: tuple[str, ...]) -> None:
    text = said(ask(catalogue, "ask_feature_value", plans=(plan,), features=(feature,)))
    assert catalogue.plan(plan).name in text
    for fact in facts:
        assert fact in text, (fact, text)


@pytest.mark.parametrize(
    ("plan", "feature", "since"),
    [
        ("starter", "message_repository", "Specialist"),
        ("starter", "human_handover", "Specialist"),
        ("specialist", "flow_map", "Expert"),
        ("specialist", "api_bots", "Expert"),
        ("expert", "generative_ai_answers", "Professional"),
        ("expert", "ai_library", "Professional"),
        ("starter", "enterprise_sso", "Enterprise"),
        ("professional", "enterprise_sso", "Enterprise"),
        ("professional", "account_manager", "Enterprise"),
    ],
)
def test_feature_value_missing_says_no_and_where_it_starts(
    catalogue: Catalogue, plan: str, feature: str, since: str
) -> None:
    text = said(ask(catalogue, "ask_feature_value", plans=(plan,), features=(feature,)))
    assert text.startswith("No")
    assert f"desde el plan {since}" in text


def test_every_missing_feature_says_no_and_names_the_first_plan(catalogue: Catalogue) -> None:
    for feature in catalogue.features:
        first = next(p.name for p in catalogue.plans if feature.values[p.key].available)
        for plan in catalogue.plans:
            text = said(ask(catalogue, "ask_feature_value", plans=(plan.key,), features=(feature.key,)))
            if feature.values[plan.key].available:
                assert not text.startswith("No"), text
            else:
                assert text.startswith("No,"), text
                assert first in text, text


def test_included_features_say_yes(catalogue: Catalogue) -> None:
    for feature in catalogue.features:
        if feature.kind != "included":
            continue
        for plan in catalogue.plans:
            if feature.values[plan.key].available:
                text = said(ask(catalogue, "ask_feature_value", plans=(plan.key,), features=(feature.key,)))
                assert text.startswith(f"Sí, el plan {plan.name} incluye"), text


def test_feature_value_for_several_plans_and_features(catalogue: Catalogue) -> None:
    reply = ask(catalogue, "ask_feature_value", plans=("starter", "expert"), features=("users", "storage"))
    text = said(reply)
    for fact in ("1 usuario", "30 usuarios", "300 MB", "2 GB"):
        assert fact in text
    assert reply.context == Context(
        topic="ask_feature_value", plans=("starter", "expert"), features=("users", "storage")
    )


def test_feature_value_without_feature_asks_which(catalogue: Catalogue) -> None:
    # The plan only from the context ("¿y cuánto tiene?"): which resource?
    question = Question("ask_feature_value", context=Context(topic="plan_summary", plans=("expert",)))
    reply = answer(catalogue, question)
    assert "¿Qué recurso del plan Expert" in said(reply) and reply.awaiting
    assert all('"plan":"expert"' in b.payload for b in reply.messages[0].buttons)


def test_feature_value_of_a_named_plan_without_feature_gives_its_summary(catalogue: Catalogue) -> None:
    # "explícame el Expert de punta a punta", read by the NLU as a feature question.
    assert said(ask(catalogue, "ask_feature_value", plans=("expert",))).startswith("Plan Expert:")


def test_feature_value_without_plan_lists_every_plan(catalogue: Catalogue) -> None:
    text = said(ask(catalogue, "ask_feature_value", features=("users",)))
    for fact in ("1 usuario", "10 usuarios", "30 usuarios", "50 usuarios"):
        assert fact in text


def test_feature_value_uses_the_context(catalogue: Catalogue) -> None:
    context = Context(topic="ask_feature_value", plans=("professional",), features=("storage",))
    assert "5 GB" in said(ask(catalogue, "ask_feature_value", context=context))


# --- ask_feature_plans -------------------------------------------------------------------------------


def test_feature_plans_only_enterprise(catalogue: Catalogue) -> None:
    reply = ask(catalogue, "ask_feature_plans", features=("enterprise_sso",))
    text = said(reply)
    assert "solo está disponible en el plan Enterprise" in text
    assert "Starter, Specialist, Expert y Professional" in text
    table = reply.messages[0].table
    assert table is not None
    assert len(table.rows) == 5


def test_feature_plans_from_expert(catalogue: Catalogue) -> None:
    text = said(ask(catalogue, "ask_feature_plans", features=("flow_map",)))
    assert "Expert, Professional y Enterprise" in text
    assert "desde el plan Expert" in text
    assert "No lo incluyen: Starter y Specialist" in text


def test_feature_plans_in_every_plan(catalogue: Catalogue) -> None:
    text = said(ask(catalogue, "ask_feature_plans", features=("mass_messaging",)))
    assert "todos los planes" in text


def test_feature_plans_quantities(catalogue: Catalogue) -> None:
    text = said(ask(catalogue, "ask_feature_plans", features=("interactionz",)))
    assert bullets(ask(catalogue, "ask_feature_plans", features=("interactionz",))) == [
        "Starter: 100 InteractionZ",
        "Specialist: 500 InteractionZ",
        "Expert: 2.000 InteractionZ",
        "Professional: 5.000 InteractionZ",
        "Enterprise: ilimitado",
    ]
    assert "excedentes se cobran por separado" in text


def test_feature_plans_starting_above_starter_says_so(catalogue: Catalogue) -> None:
    text = said(ask(catalogue, "ask_feature_plans", features=("third_party_connectors",)))
    assert "Starter: no incluido" in text
    assert "Disponible desde el plan Specialist" in text


def test_feature_plans_without_feature_lists_the_plans(catalogue: Catalogue) -> None:
    # "¿Qué planes tienen?" names no feature: the user is asking which plans exist.
    text = said(ask(catalogue, "ask_feature_plans"))
    assert "5 planes de software" in text
    assert "Starter, Specialist, Expert, Professional y Enterprise" in text


# --- compare_plans -----------------------------------------------------------------------------------

EXPERT_VS_PROFESSIONAL = {
    "Usuarios",
    "InteractionZ",
    "Bots activos",
    "Respuesta Inteligente con IA Generativa",
    "Biblioteca para IA",
    "Límite de solicitudes de APIs",
    "Llamadas a APIs externas",
    "Retención de datos",
    "Almacenamiento para informes, plantillas y archivos",
    "SLA de atención",
}


@pytest.mark.parametrize("order", [("expert", "professional"), ("professional", "expert")])
def test_compare_expert_professional(catalogue: Catalogue, order: tuple[str, str]) -> None:
    reply = ask(catalogue, "compare_plans", plans=order)
    text = said(reply)
    assert "Mapa de flujos" not in text
    assert "Envío de mensajes en masa" not in text
    assert "Usuarios: Expert 30 usuarios · Professional 50 usuarios" in text
    assert "InteractionZ: Expert 2.000 InteractionZ · Professional 5.000 InteractionZ" in text
    assert {line.split(":")[0] for line in bullets(reply)} == EXPERT_VS_PROFESSIONAL
    assert "(10 recursos" in text
    table = reply.messages[-1].table
    assert table is not None
    assert table.columns == ("Recurso", "Expert", "Professional")
    assert {row[0] for row in table.rows} == EXPERT_VS_PROFESSIONAL
    assert reply.context == Context(topic="compare_plans", plans=("expert", "professional"))


def test_compare_starter_specialist(catalogue: Catalogue) -> None:
    text = said(ask(catalogue, "compare_plans", plans=("starter", "specialist")))
    assert "Repositorio de mensajes: Starter no · Specialist sí" in text
    assert "Usuarios: Starter 1 usuario · Specialist 10 usuarios" in text
    assert "Mapa de flujos" not in text  # neither has it
    assert "Certificado de Seguridad ISO 27001" not in text  # both have it


def test_compare_only_differing_rows_for_every_pair(catalogue: Catalogue) -> None:
    for a, b in itertools.combinations(catalogue.plans, 2):
        reply = ask(catalogue, "compare_plans", plans=(a.key, b.key))
        rows = {line.split(":")[0] for line in bullets(reply)}
        differing = {f.name for f in catalogue.features if f.values[a.key] != f.values[b.key]}
        assert rows == differing, (a.key, b.key)


def test_compare_three_plans(catalogue: Catalogue) -> None:
    text = said(ask(catalogue, "compare_plans", plans=("enterprise", "starter", "expert")))
    assert "Diferencias entre Starter, Expert y Enterprise" in text
    assert "Usuarios: Starter 1 usuario · Expert 30 usuarios · Enterprise ilimitado" in text


def test_compare_one_plan_with_the_one_in_context(catalogue: Catalogue) -> None:
    context = Context(topic="plan_summary", plans=("starter",))
    text = said(ask(catalogue, "compare_plans", plans=("expert",), context=context))
    assert "Diferencias entre Starter y Expert" in text


def test_compare_needs_two_plans(catalogue: Catalogue) -> None:
    reply = ask(catalogue, "compare_plans", plans=("expert",))
    assert "¿Con qué plan quieres comparar el Expert?" in said(reply) and reply.awaiting
    assert [b.title for b in reply.messages[0].buttons] == [
        "Starter",
        "Specialist",
        "Professional",
        "Enterprise",
    ]
    assert reply.messages[0].buttons[0].payload == '/compare_plans{"plan":["expert","starter"]}'
    none = ask(catalogue, "compare_plans")
    assert "¿Qué planes quieres comparar?" in said(none)
    assert [b.title for b in none.messages[0].buttons][:2] == ["Starter y Specialist", "Specialist y Expert"]


# --- plan_summary / list_plans -----------------------------------------------------------------------

SUMMARIES: dict[str, tuple[str, ...]] = {
    "starter": (
        "1 usuario",
        "100 InteractionZ",
        "1 bot activo",
        "hasta 10 solicitudes por segundo",
        "hasta 150.000 llamadas por mes",
        "3 meses",
        "300 MB",
        "hasta 1.000 contactos",
        "12 horas",
    ),
    "specialist": (
        "10 usuarios",
        "500 InteractionZ",
        "5 bots activos",
        "hasta 10 solicitudes por segundo",
        "hasta 150.000 llamadas por mes",
        "6 meses",
        "1 GB",
        "12 horas",
    ),
    "expert": (
        "30 usuarios",
        "2.000 InteractionZ",
        "10 bots activos",
        "hasta 15 solicitudes por segundo",
        "hasta 350.000 llamadas por mes",
        "6 meses",
        "2 GB",
        "12 horas",
    ),
    "professional": (
        "50 usuarios",
        "5.000 InteractionZ",
        "hasta 20 solicitudes por segundo",
        "hasta 750.000 llamadas por mes",
        "hasta 24 meses offline",
        "5 GB",
        "4 horas",
    ),
    "enterprise": ("usuarios ilimitados", "InteractionZ ilimitadas", "Precio: bajo consulta", "4 horas"),
}

# Features the page says the plan lacks, which its summary must list under "No incluye".
LACKS: dict[str, tuple[str, ...]] = {
    "starter": ("Repositorio de mensajes", "Transbordo humano", "Mapa de flujos", "Account manager"),
    "specialist": ("Mapa de flujos", "Regla de comunicación automatizada", "Enterprise Single Sign On"),
    "expert": ("Respuesta Inteligente con IA Generativa", "Biblioteca para IA", "Account manager"),
    "professional": ("Enterprise Single Sign On", "Account manager"),
    "enterprise": (),
}


@pytest.mark.parametrize("plan", PLANS)
def test_plan_summary(catalogue: Catalogue, plan: str) -> None:
    reply = ask(catalogue, "plan_summary", plans=(plan,))
    text = said(reply)
    assert text.startswith(f"Plan {catalogue.plan(plan).name}:")
    for fact in SUMMARIES[plan]:
        assert fact in text, (plan, fact)
    lacking_line = next((line for line in text.splitlines() if line.startswith("No incluye:")), "")
    for name in LACKS[plan]:
        assert name in lacking_line, (plan, name)
    assert reply.context == Context(topic="plan_summary", plans=(plan,))


def test_summary_lacking_lists_exactly_the_missing_features(catalogue: Catalogue) -> None:
    for plan in catalogue.plans:
        text = said(ask(catalogue, "plan_summary", plans=(plan.key,)))
        line = next((line for line in text.splitlines() if line.startswith("No incluye: ")), "")
        rest = line.removeprefix("No incluye: ").rstrip(".")
        missing = [f.name for f in catalogue.features if not f.values[plan.key].available]
        # Names may contain " y " ("Gestión de cuentas y perfiles"): remove them, longest first.
        for name in sorted(missing, key=len, reverse=True):
            assert name in rest, (plan.key, name)
            rest = rest.replace(name, "", 1)
        assert re.fullmatch(r"(, | y )*", rest), (plan.key, rest)


def test_expert_summary_does_not_say_it_lacks_flow_map(catalogue: Catalogue) -> None:
    text = said(ask(catalogue, "plan_summary", plans=("expert",)))
    assert "Respecto al plan Specialist, agrega:" in text
    assert "Mapa de flujos" in text.split("Respecto al plan Specialist, agrega:")[1].split("\n")[0]


def test_enterprise_summary_includes_everything(catalogue: Catalogue) -> None:
    text = said(ask(catalogue, "plan_summary", plans=("enterprise",)))
    assert "No incluye" not in text
    assert "Enterprise Single Sign On" in text
    assert "Account manager" in text


def test_plan_summary_without_plan_asks(catalogue: Catalogue) -> None:
    reply = ask(catalogue, "plan_summary")
    assert "¿De qué plan" in said(reply)
    assert [b.title for b in reply.messages[0].buttons] == [p.name for p in catalogue.plans]


def test_list_plans(catalogue: Catalogue) -> None:
    reply = ask(catalogue, "list_plans")
    text = said(reply)
    assert "5 planes de software: Starter, Specialist, Expert, Professional y Enterprise" in text
    assert bullets(reply) == [
        "Starter: 1 usuario y 100 InteractionZ",
        "Specialist: 10 usuarios y 500 InteractionZ",
        "Expert: 30 usuarios y 2.000 InteractionZ",
        "Professional: 50 usuarios y 5.000 InteractionZ",
        "Enterprise: usuarios ilimitados y InteractionZ ilimitadas",
    ]
    assert "plan de canales" in text


# --- recommend_plan ----------------------------------------------------------------------------------


def test_recommend_plan_with_alternative(catalogue: Catalogue) -> None:
    reply = ask(catalogue, "recommend_plan", "somos 12 usuarios")
    text = said(reply)
    assert text.startswith("Te recomiendo el plan Expert")
    assert "30 usuarios (necesitas 12)" in text
    assert "Alternativa: el plan Specialist" in text
    assert "2 usuarios de excedente" in text
    assert reply.context is not None
    assert reply.context.plans == ("expert",)


def test_recommend_plan_users_and_interactionz(catalogue: Catalogue) -> None:
    text = said(ask(catalogue, "recommend_plan", "somos 20 y necesitamos 3 mil interacciones"))
    assert text.startswith("Te recomiendo el plan Professional")
    assert "5.000 InteractionZ (necesitas 3.000)" in text
    assert "Alternativa: el plan Expert" in text
    assert "1.000 InteractionZ de excedente" in text


def test_recommend_plan_with_a_feature(catalogue: Catalogue) -> None:
    reply = ask(
        catalogue, "recommend_plan", "5 usuarios con IA generativa", features=("generative_ai_answers",)
    )
    text = said(reply)
    assert text.startswith("Te recomiendo el plan Professional")
    assert "Respuesta Inteligente con IA Generativa" in text
    assert "Alternativa" not in text


def test_recommend_enterprise_says_on_request(catalogue: Catalogue) -> None:
    text = said(ask(catalogue, "recommend_plan", "somos 60 usuarios"))
    assert text.startswith("Te recomiendo el plan Enterprise")
    assert "bajo consulta" in text


def test_recommend_without_needs_asks(catalogue: Catalogue) -> None:
    text = said(ask(catalogue, "recommend_plan", "¿qué plan me conviene?"))
    assert "cuántos usuarios" in text


# --- ask_price and the explanations ------------------------------------------------------------------


def test_price_enterprise_on_request(catalogue: Catalogue) -> None:
    text = said(ask(catalogue, "ask_price", plans=("enterprise",)))
    assert "bajo consulta" in text
    assert "https://www.zenvia.com/es-mx/customer-cloud/" in text


@pytest.mark.parametrize(
    ("plan", "users", "credits"), [("starter", "1 usuario", "100"), ("expert", "30 usuarios", "2.000")]
)
def test_price_of_a_plan_varies(catalogue: Catalogue, plan: str, users: str, credits: str) -> None:
    text = said(ask(catalogue, "ask_price", plans=(plan,)))
    assert "varía según el número de usuarios y las InteractionZ consumidas" in text
    assert f"{users} y {credits} InteractionZ" in text
    assert "bajo consulta" not in text
    assert "$" not in text  # the page gives no figures


def test_price_in_general(catalogue: Catalogue) -> None:
    text = said(ask(catalogue, "ask_price"))
    assert "varía según el número de usuarios" in text
    assert "Enterprise es bajo consulta" in text
    assert "se cobran por separado" in text


def test_explain_interactionz(catalogue: Catalogue) -> None:
    reply = ask(catalogue, "explain_interactionz")
    assert "créditos de interacción" in said(reply)
    assert "Expert: 2.000 InteractionZ" in bullets(reply)
    assert "Enterprise: InteractionZ ilimitadas" in bullets(reply)


def test_explain_users(catalogue: Catalogue) -> None:
    reply = ask(catalogue, "explain_users")
    assert "licencias" in said(reply)
    assert bullets(reply) == [
        "Starter: 1 usuario",
        "Specialist: 10 usuarios",
        "Expert: 30 usuarios",
        "Professional: 50 usuarios",
        "Enterprise: usuarios ilimitados",
    ]


def test_overage(catalogue: Catalogue) -> None:
    text = said(ask(catalogue, "ask_overage"))
    assert "se cobran por separado" in text
    assert "Professional: 5.000 InteractionZ" in text
    assert "Professional: 50 usuarios" in text


# --- Channels ----------------------------------------------------------------------------------------


def test_channels_of_starter_lack_whatsapp_for_service(catalogue: Catalogue) -> None:
    text = said(ask(catalogue, "ask_channels", plans=("starter",)))
    activators, service = text.split("canales de servicio")
    assert "WhatsApp Business" in activators
    assert "WhatsApp" not in service
    for name in ("Instagram", "Facebook Messenger", "Webchat"):
        assert name in service


@pytest.mark.parametrize("plan", PLANS[1:])
def test_channels_of_other_plans_have_whatsapp_for_service(catalogue: Catalogue, plan: str) -> None:
    text = said(ask(catalogue, "ask_channels", plans=(plan,)))
    service = text.split("canales de servicio")[1]
    assert "WhatsApp Business" in service


@pytest.mark.parametrize(
    ("channel", "uses", "not_uses"),
    [
        ("whatsapp", ("envíos", "atención al cliente", "chatbots"), ()),
        ("sms", ("envíos",), ("atención", "chatbots")),
        ("rcs", ("envíos",), ("atención", "chatbots")),
        ("email", ("envíos",), ("atención", "chatbots")),
        ("facebook_messenger", ("atención al cliente",), ("envíos", "chatbots")),
        ("instagram", ("atención al cliente", "chatbots"), ("envíos",)),
        ("webchat", ("atención al cliente", "chatbots"), ("envíos",)),
    ],
)
def test_channel_uses(
    catalogue: Catalogue, channel: str, uses: tuple[str, ...], not_uses: tuple[str, ...]
) -> None:
    first = said(ask(catalogue, "ask_channels", channels=(channel,))).splitlines()[0]
    assert first.startswith(catalogue.channel(channel).name)
    for use in uses:
        assert use in first
    for use in not_uses:
        assert use not in first


def test_all_channels(catalogue: Catalogue) -> None:
    reply = ask(catalogue, "ask_channels")
    assert len(bullets(reply)) == 7
    assert "no se acumula" in said(reply)


def test_channels_package(catalogue: Catalogue) -> None:
    text = said(ask(catalogue, "ask_channels_package"))
    assert "único paquete" in text
    assert "no se acumula entre los meses" in text
    assert "combinar los canales" in text
    for name in ("WhatsApp", "SMS", "RCS", "E-mail", "Facebook Messenger", "Instagram Messenger", "Webchat"):
        assert name in text


# --- Billing and account -----------------------------------------------------------------------------


def test_payment_methods(catalogue: Catalogue) -> None:
    text = said(ask(catalogue, "ask_payment_methods"))
    assert "tarjeta de crédito y invoice (factura)" in text
    assert "después de un mes de uso" in text
    assert "acceso inmediato" in text
    assert "Ajustes > Planes y contratos" in text


def test_add_card(catalogue: Catalogue) -> None:
    text = said(ask(catalogue, "ask_add_card"))
    assert "Ajustes > Planes y contratos" in text
    assert "1. Haz clic en Gestionar tarjetas" in text
    assert "2. Para agregar una nueva tarjeta" in text
    assert "Agregar tarjeta" in text
    assert "3. Ingresa los datos de la tarjeta" in text
    assert "My Wallet" in text


def test_card_problem(catalogue: Catalogue) -> None:
    reply = ask(catalogue, "card_problem")
    assert len(bullets(reply)) == 5
    text = said(reply)
    for fact in (
        "números de la tarjeta",
        "fecha de vencimiento",
        "CVV",
        "compras en línea",
        "límite de crédito",
    ):
        assert fact in text
    assert "emisor de tu tarjeta" in text


def test_invoice(catalogue: Catalogue) -> None:
    text = said(ask(catalogue, "ask_invoice"))
    assert "solo se pueden realizar después de un mes de uso" in text
    assert "Configuraciones > Información financiera" in text


def test_how_to_contract(catalogue: Catalogue) -> None:
    text = said(ask(catalogue, "how_to_contract"))
    assert "sitio web de Zenvia" in text
    assert "combinar un plan de software con un plan de canales" in text
    assert "https://www.zenvia.com/es-mx/customer-cloud/" in text


def test_contracts_access(catalogue: Catalogue) -> None:
    text = said(ask(catalogue, "ask_contracts_access"))
    assert "Ajustes > Planes y contratos" in text
    assert "solo para usuarios con el perfil de Admin" in text
    for name in (
        "Número de contrato",
        "Estado del contrato",
        "Información financiera",
        "Gestión de la forma de pago",
    ):
        assert name in text


@pytest.mark.parametrize(
    "typed",
    [
        "mi tarjeta es 4111 1111 1111 1111, vence 12/27, cvv 123",
        "4111111111111111 exp 0927 cvv 987",
        "5500-0000-0000-0004",
    ],
)
def test_card_data_warning_never_echoes_digits(catalogue: Catalogue, typed: str) -> None:
    reply = ask(catalogue, "share_card_data", typed)
    text = said(reply)
    assert "no compartas" in text
    assert "Agregar tarjeta" in text
    for group in re.findall(r"\d+", typed):
        if len(group) > 1:
            assert group not in text, group
    # No number longer than one digit at all (the page's "últimos 4 dígitos" is the only digit).
    assert not re.search(r"\d{2,}", text)
    assert typed not in repr(reply)


@pytest.mark.parametrize("intent", ["ask_contract_status", "ask_financial_info", "ask_card_on_file"])
def test_account_questions_need_an_admin(catalogue: Catalogue, intent: str) -> None:
    reply = ask(catalogue, intent)
    text = said(reply)
    assert "Si inicias sesión con un usuario de perfil Admin" in text
    assert "Admin" in text
    assert "Ajustes > Planes y contratos" in text
    assert reply.context == Context(topic=intent)


# --- Properties over every combination ---------------------------------------------------------------


def _check(reply: Reply, label: object) -> None:
    assert reply.messages, label
    for message in reply.messages:
        assert message.text.strip(), label
        assert len(message.text) <= WHATSAPP_LIMIT, (label, len(message.text))
        assert "|" not in message.text, label
        # Spanish thousands: 2.000, never 2000 (ISO 27001 is a name, not an amount).
        assert not re.search(r"(?<!ISO )(?<![\d.])\d{4,}\b", message.text), (label, message.text)
        for button in message.buttons:
            assert button.title and button.payload.startswith("/"), label
        if message.table is not None:
            assert all(len(row) == len(message.table.columns) for row in message.table.rows), label


def _mention_sets(catalogue: Catalogue) -> list[Mentions]:
    plans = [p.key for p in catalogue.plans]
    features = [f.key for f in catalogue.features]
    channels = [c.key for c in catalogue.channels]
    sets = [Mentions()]
    sets += [Mentions(plans=(p,)) for p in plans]
    sets += [Mentions(features=(f,)) for f in features]
    sets += [Mentions(channels=(c,)) for c in channels]
    sets += [Mentions(plans=(p,), features=(f,)) for p in plans for f in features]
    sets += [Mentions(plans=pair) for pair in itertools.permutations(plans, 2)]
    sets += [
        Mentions(plans=tuple(plans)),
        Mentions(features=tuple(features)),
        Mentions(plans=tuple(plans), features=tuple(features)),
        Mentions(plans=tuple(plans), channels=tuple(channels)),
    ]
    return sets


CONTEXTS = (
    Context(),
    Context(topic="ask_feature_value", plans=("specialist",), features=("users",)),
    Context(topic="compare_plans", plans=("starter", "expert")),
)


@pytest.mark.parametrize("intent", sorted([*ANSWERS, "follow_up"]))
def test_every_message_is_short_plain_and_not_empty(catalogue: Catalogue, intent: str) -> None:
    for mentions in _mention_sets(catalogue):
        for context in CONTEXTS:
            question = Question(intent, "somos 12 usuarios y 3.000 interacciones", mentions, context)
            _check(answer(catalogue, question), (intent, mentions, context))


def test_every_plan_feature_pair(catalogue: Catalogue) -> None:
    for plan in catalogue.plans:
        _check(ask(catalogue, "plan_summary", plans=(plan.key,)), plan.key)
        _check(ask(catalogue, "ask_price", plans=(plan.key,)), plan.key)
        _check(ask(catalogue, "ask_channels", plans=(plan.key,)), plan.key)
        for feature in catalogue.features:
            label = (plan.key, feature.key)
            _check(ask(catalogue, "ask_feature_value", plans=(plan.key,), features=(feature.key,)), label)
    for feature in catalogue.features:
        _check(ask(catalogue, "ask_feature_plans", features=(feature.key,)), feature.key)


def test_every_pair_and_group_of_plans(catalogue: Catalogue) -> None:
    keys = [p.key for p in catalogue.plans]
    for size in range(2, len(keys) + 1):
        for group in itertools.combinations(keys, size):
            _check(ask(catalogue, "compare_plans", plans=group), group)


def test_every_recommendation(catalogue: Catalogue) -> None:
    for users in (1, 5, 10, 12, 30, 31, 50, 51, 500):
        for credits in (50, 100, 2500, 5000, 9000):
            text = f"somos {users} usuarios y necesitamos {credits} interacciones"
            for feature in (None, *(f.key for f in catalogue.features)):
                features = (feature,) if feature else ()
                _check(ask(catalogue, "recommend_plan", text, features=features), (text, feature))

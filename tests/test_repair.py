"""Conversation repair through the real actions, turn by turn (intents given, as the NLU would give them):
choices, interruptions, corrections, cancellation, clarification, repeat, chitchat, the fallback and card
data — the cases of issue #12, each from more than one state."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy.orm import Session, sessionmaker

from actions import runtime
from bot.store.catalogue_cache import CatalogueCache
from bot.store.demo import seed_demo
from tests.conversation import Conversation, said

ANA = {
    "user_id": 1,
    "account_id": 1,
}  # Admin: ZCC-100001 Expert active, 100002 Specialist suspended, 100003 Starter cancelled
MARIA = {"user_id": 3, "account_id": 2}  # Admin of one contract
PAYMENTS = "Información financiera del contrato"
INVOICES = "Invoices del contrato"


@pytest.fixture(autouse=True)
def store(sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch) -> None:
    with sessions.begin() as session:
        seed_demo(session, today=date.today())
    cache = CatalogueCache(sessions, max_age=60)
    monkeypatch.setattr(runtime, "catalogue_cache", lambda: cache)
    monkeypatch.setattr(runtime, "sessions", lambda: sessions)


def buttons(messages: list[dict[str, object]]) -> list[str]:
    return [str(b["title"]) for m in messages for b in m.get("buttons") or []]  # type: ignore[attr-defined]


# --- 1. Choices ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("typed", "intent", "number"),
    [
        ("1", "choose_option", "ZCC-100001"),
        ("3", "choose_option", "ZCC-100003"),
        ("el primero", "choose_option", "ZCC-100001"),
        ("la última", "choose_option", "ZCC-100003"),
        ("el de abajo", "nlu_fallback", "ZCC-100003"),
        ("el penúltimo", "choose_option", "ZCC-100002"),
        ("el del Expert", "plan_summary", "ZCC-100001"),
        ("el de especialist porfa", "follow_up", "ZCC-100002"),
        ("el cancelado", "out_of_scope", "ZCC-100003"),
        ("el activo", "choose_option", "ZCC-100001"),
        ("zcc-100003", "inform_contract_number", "ZCC-100003"),
        ("ZCC 100001", "ask_contract_status", "ZCC-100001"),
        ("opción 2", "choose_option", "ZCC-100002"),
        ("2️⃣", "nlu_fallback", "ZCC-100002"),
    ],
)
def test_a_choice_by_number_ordinal_number_plan_or_status(typed: str, intent: str, number: str) -> None:
    talk = Conversation(ANA)
    assert len(buttons(talk.say("mis facturas", "ask_invoice"))) == 3
    text = said(talk.say(typed, intent))
    assert f"{INVOICES} {number}" in text
    assert "no estoy seguro" not in text and "no compartas" not in text


def test_plan_options_are_picked_by_number_ordinal_and_name() -> None:
    for typed, plan in (
        ("2", "Specialist"),
        ("el cuarto", "Professional"),
        ("el del enterprise", "Enterprise"),
    ):
        talk = Conversation()
        assert buttons(talk.say("qué incluye el plan", "plan_summary"))[:2] == ["Starter", "Specialist"]
        assert said(talk.say(typed, "choose_option")).startswith(f"Plan {plan}:")


def test_options_of_a_list_answer_can_be_picked_too() -> None:
    talk = Conversation()
    talk.say("qué planes hay", "list_plans")
    assert said(talk.say("el tercero", "choose_option")).startswith("Plan Expert:")


def test_several_fitting_options_are_narrowed() -> None:
    talk = Conversation(ANA)
    talk.say("mis pagos", "ask_financial_info")
    narrowed = talk.say("el de 1000", "choose_option")
    assert "No encontré «1000»" in said(narrowed)  # a number that is no option: a clear retry
    assert PAYMENTS in said(talk.say("2", "choose_option"))


# --- 2. Interruption ----------------------------------------------------------------------------------------
def test_anas_scenario_a_question_that_needs_a_contract_too_offers_the_choice_for_it() -> None:
    talk = Conversation(ANA)
    first = talk.say("¿cuánto debo pagar y cuándo?", "ask_financial_info")
    assert "¿De cuál contrato quieres ver los pagos?" in said(first)
    second = talk.say("¿dónde encuentro mis facturas?", "ask_invoice")
    text = said(second)
    assert "¿De cuál contrato quieres ver los invoices?" in text
    assert "no estoy seguro" not in text and "persona" not in text
    assert not any(m.get("custom") for m in second)
    assert len(second) == 1
    assert f"{INVOICES} ZCC-100002" in said(talk.say("2", "choose_option"))


def test_a_question_that_needs_no_contract_is_answered_and_the_choice_offered_once_more() -> None:
    talk = Conversation(ANA)
    talk.say("mis pagos", "ask_financial_info")
    digression = talk.say("¿cuántos usuarios trae el Expert?", "ask_feature_value")
    text = said(digression)
    assert text.startswith("Usuarios en el plan Expert: 30 usuarios")
    assert "Sobre tu pregunta anterior: ¿de cuál contrato quieres ver los pagos?" in text
    assert len(buttons(digression)) == 3
    assert f"{PAYMENTS} ZCC-100003" in said(talk.say("la última", "choose_option"))


def test_the_choice_is_offered_once_more_and_then_dropped() -> None:
    talk = Conversation(ANA)
    talk.say("mis pagos", "ask_financial_info")
    talk.say("¿qué son las InteractionZ?", "explain_interactionz")
    again = said(talk.say("¿cómo agrego una tarjeta?", "ask_add_card"))
    assert "Sobre tu pregunta anterior" not in again
    assert "no tengo opciones para elegir" in said(talk.say("2", "choose_option"))


def test_chitchat_while_choosing_keeps_the_choice() -> None:
    talk = Conversation(ANA)
    talk.say("mis pagos", "ask_financial_info")
    assert talk.say("gracias", "thank") == [{"response": "utter_thank"}]
    assert talk.say("ok", "acknowledge") == [{"response": "utter_acknowledge"}]
    assert f"{PAYMENTS} ZCC-100001" in said(talk.say("el primero", "choose_option"))


# --- 3. Correction ------------------------------------------------------------------------------------------
def test_correction_of_a_plan() -> None:
    talk = Conversation()
    assert "Starter: 1 usuario" in said(talk.say("cuántos usuarios trae el starter", "ask_feature_value"))
    assert "Expert: 30 usuarios" in said(talk.say("no, quise decir el Expert", "correct"))


def test_correction_of_a_contract() -> None:
    talk = Conversation(ANA)
    talk.say("mis facturas", "ask_invoice")
    assert f"{INVOICES} ZCC-100001" in said(talk.say("1", "choose_option"))
    assert f"{INVOICES} ZCC-100002" in said(talk.say("perdón, el ZCC-100002", "correct"))


def test_the_other_of_two_plans_and_of_three_contracts() -> None:
    talk = Conversation(ANA)
    talk.say("mis facturas", "ask_invoice")
    talk.say("el suspendido", "choose_option")
    other = talk.say("me equivoqué, el otro", "correct")
    assert "¿Cuál de estos?" in said(other)
    assert [t.split()[0] for t in buttons(other)] == ["ZCC-100001", "ZCC-100003"]
    assert f"{INVOICES} ZCC-100003" in said(talk.say("2", "choose_option"))


def test_correction_of_one_plan_of_a_comparison() -> None:
    talk = Conversation()
    talk.say("diferencias entre starter y expert", "compare_plans")
    assert "Diferencias entre Starter y Professional" in said(talk.say("no, el professional", "correct"))


def test_correction_named_by_the_nlu_as_something_else() -> None:
    talk = Conversation()
    talk.say("el starter tiene repositorio de mensajes?", "ask_feature_value")
    reply = said(talk.say("perdón, el specialist", "plan_summary"))
    assert reply.startswith("Sí, el plan Specialist incluye Repositorio de mensajes")


def test_correction_without_a_value_asks_for_it() -> None:
    talk = Conversation()
    talk.say("cuántos usuarios trae el starter", "ask_feature_value")
    assert "¿Qué querías preguntar?" in said(talk.say("no, me equivoqué", "correct"))


# --- 4. Cancellation ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("typed", "intent"),
    [("cancelar", "cancel"), ("olvídalo", "cancel"), ("nada", "nlu_fallback"), ("ninguno", "choose_option")],
)
def test_cancel_leaves_a_pending_choice(typed: str, intent: str) -> None:
    talk = Conversation(ANA)
    talk.say("mis pagos", "ask_financial_info")
    assert said(talk.say(typed, intent)) == "De acuerdo, dejamos esa elección. ¿En qué más te ayudo?"
    assert talk.slots["pending_choice"] is None
    assert "no tengo opciones para elegir" in said(talk.say("2", "choose_option"))


def test_cancel_with_nothing_pending_is_a_short_confirmation() -> None:
    assert (
        said(Conversation().say("cancelar", "cancel"))
        == "De acuerdo. ¿Hay algo más en lo que pueda ayudarte?"
    )


# --- 5. Clarification ---------------------------------------------------------------------------------------
def test_two_close_readings_are_asked_about() -> None:
    talk = Conversation()
    ranking = [("nlu_fallback", 0.45), ("ask_invoice", 0.41), ("ask_payment_methods", 0.38), ("greet", 0.02)]
    reply = talk.say("factura o tarjeta", "nlu_fallback", ranking=ranking)
    assert "¿qué quieres saber?" in said(reply)
    assert buttons(reply) == ["Invoices (facturas)", "Formas de pago"]
    assert talk.slots.get("misunderstood_turn") is None
    assert said(talk.say("la segunda", "choose_option")).startswith("Las formas de pago disponibles")


def test_a_question_without_its_plan_asks_which() -> None:
    talk = Conversation()
    reply = talk.say("¿qué incluye el plan?", "plan_summary")
    assert "¿De qué plan quieres el resumen?" in said(reply) and len(buttons(reply)) == 5


def test_words_that_name_the_catalogue_are_answered_even_when_the_intent_is_unsure() -> None:
    reply = said(Conversation().say("expert usuarios", "nlu_fallback", ranking=[("nlu_fallback", 0.45)]))
    assert "Usuarios en el plan Expert: 30 usuarios" in reply


def test_recommendation_waits_for_the_numbers() -> None:
    talk = Conversation()
    assert "Cuéntame cuántos usuarios" in said(talk.say("qué plan me conviene", "recommend_plan"))
    assert "Te recomiendo el plan Specialist" in said(talk.say("8", "choose_option"))


# --- 6. Repeat ----------------------------------------------------------------------------------------------
def test_repeat_gives_the_last_answer_again() -> None:
    talk = Conversation()
    first = said(talk.say("cuántos usuarios trae el expert", "ask_feature_value"))
    talk.say("ok", "acknowledge")
    assert said(talk.say("¿me lo repites?", "repeat")) == first
    assert said(talk.say("no entendí, otra vez", "nlu_fallback")) == first


def test_repeat_of_a_choice_offers_it_again() -> None:
    talk = Conversation(ANA)
    first = talk.say("mis pagos", "ask_financial_info")
    assert talk.say("repite porfa", "repeat") == first
    assert PAYMENTS in said(talk.say("2", "choose_option"))


def test_repeat_before_anything_was_answered() -> None:
    assert "Todavía no te he respondido nada" in said(Conversation().say("¿me lo repites?", "repeat"))


# --- 7. Chitchat keeps the context --------------------------------------------------------------------------
def test_a_follow_up_after_chitchat_still_works() -> None:
    talk = Conversation()
    talk.say("cuántos usuarios trae el expert", "ask_feature_value")
    talk.say("hola", "greet")
    talk.say("👍", "acknowledge")
    entities = [{"entity": "plan", "value": "professional"}]
    assert "Professional: 50 usuarios" in said(talk.say("¿y el professional?", "follow_up", entities))


def test_an_emoji_the_nlu_missed_is_acknowledged() -> None:
    assert [m.get("response") for m in Conversation().say("👌🏽", "nlu_fallback")] == ["utter_acknowledge"]


# --- 8. Cannot handle ---------------------------------------------------------------------------------------
def test_one_fallback_then_a_handoff_that_says_so_once() -> None:
    talk = Conversation()
    first = talk.say("blorf", "nlu_fallback")
    assert said(first).count("no estoy seguro") == 1 and not any(m.get("custom") for m in first)
    second = talk.say("gnarp", "nlu_fallback")
    assert said(second).count("te comunico con una persona") == 1
    assert [m["custom"]["reason"] for m in second if m.get("custom")] == ["not_understood"]


def test_out_of_scope_never_hands_off() -> None:
    talk = Conversation()
    for _ in range(3):
        reply = talk.say("¿qué clima hace hoy?", "out_of_scope")
        assert "solo puedo ayudarte con los planes" in said(reply)
        assert not any(m.get("custom") for m in reply)


def test_nonsense_while_choosing_repeats_the_options_and_hands_off_only_the_second_time() -> None:
    talk = Conversation(ANA)
    talk.say("mis pagos", "ask_financial_info")
    first = talk.say("blorf", "nlu_fallback")
    assert "no entendí tu respuesta" in said(first) and len(buttons(first)) == 3
    assert [m["custom"]["reason"] for m in talk.say("gnarp", "nlu_fallback") if m.get("custom")] == [
        "not_understood"
    ]


# --- 9. Card data -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("typed", ["2", "17", "100002", "ZCC-100002", "12345"])
def test_a_short_number_or_a_contract_number_is_never_card_data(typed: str) -> None:
    text = said(Conversation(ANA).say(typed, "share_card_data"))
    assert "no compartas" not in text


@pytest.mark.parametrize("typed", ["4111 1111 1111 1111", "mi tarjeta es 5500-0000-0000-0004", "cvv 123"])
def test_card_data_gets_the_warning_and_is_never_echoed(typed: str) -> None:
    text = said(Conversation().say(typed, "share_card_data"))
    assert "no compartas" in text and "0004" not in text and "4111 1111" not in text


def test_card_data_inside_another_question_warns_first_and_answers() -> None:
    reply = Conversation().say("mi tarjeta 4111111111111111 no pasa, qué hago", "card_problem")
    assert "no compartas" in reply[0]["text"] and "verifica" in said(reply)


# --- 10. Answers that answer --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("question", "intent", "start"),
    [
        ("¿Con el plan Starter puedo atender clientes por WhatsApp?", "ask_channels", "No."),
        ("¿con el specialist puedo atender por whatsapp?", "ask_channels", "Sí."),
        ("¿puedo enviar SMS con el starter?", "ask_channels", "Sí."),
        ("¿el starter tiene repositorio de mensajes?", "ask_feature_value", "No,"),
        ("¿el expert tiene 30 usuarios?", "ask_feature_value", "Sí."),
        ("¿se acumula el paquete de canales?", "ask_channels_package", "No."),
        ("¿puedo pagar con factura desde el primer mes?", "ask_payment_methods", "No."),
        ("¿puedo pagar con paypal?", "ask_payment_methods", "No"),
        ("¿puedo contratar por aquí?", "how_to_contract", "No."),
        ("¿cualquier usuario puede ver los contratos?", "ask_contracts_access", "No."),
        ("¿se cobran los usuarios de más?", "ask_overage", "Sí."),
        ("los usuarios de más se pagan aparte?", "ask_overage", "Sí."),
        ("¿todos los planes tienen ISO 27001?", "ask_feature_plans", "Sí."),
        ("¿hay algún plan sin envío masivo?", "ask_feature_plans", "No."),
        ("¿el SLA es igual en todos los planes?", "ask_feature_plans", "No."),
        ("¿hay planes con bots sin límite?", "ask_feature_plans", "Sí."),
        ("si no gasto todo el paquete este mes, pasa al siguiente?", "ask_channels_package", "No."),
        ("los envíos que me sobran se acumulan?", "ask_channels_package", "No."),
        ("el paquete de canales tiene precio por cada canal?", "ask_channels_package", "Sí."),
        ("el Starter me deja usar Instagram para atender", "ask_channels", "Sí."),
        ("hay que ser admin para ver los contratos?", "ask_contracts_access", "Sí."),
        ("¿los asientos son por persona?", "explain_users", "Sí."),
    ],
)
def test_yes_no_questions_open_with_yes_or_no(question: str, intent: str, start: str) -> None:
    assert said(Conversation().say(question, intent)).startswith(start)


def test_a_longer_message_read_as_a_choice_with_nothing_to_choose_is_read_as_the_next_question() -> None:
    ranking = [("choose_option", 0.6), ("ask_contract_status", 0.3), ("greet", 0.01)]
    reply = said(Conversation().say("tengo el contrato suspendido o qué?", "choose_option", ranking=ranking))
    assert "Consulta tus contratos en Ajustes > Planes y contratos" in reply and "Admin" in reply


def test_anonymous_walkthrough_then_the_sign_in_hint() -> None:
    text = said(Conversation().say("¿Cómo veo qué tarjeta tengo registrada?", "ask_card_on_file"))
    assert text.index("Gestionar tarjetas") < text.index("Si inicias sesión")
    assert "últimos 4 dígitos" in text and "titular" in text and "vencimiento" in text


def test_tables_keep_the_catalogue_casing() -> None:
    messages = Conversation().say("diferencias entre starter y specialist", "compare_plans")
    rows = next(m["custom"]["rows"] for m in messages if m.get("custom"))
    cells = " ".join(cell for row in rows for cell in row)
    assert "100 InteractionZ" in cells and "WhatsApp Business" in cells and "300 MB" in cells
    assert "interactionz" not in cells and "whatsapp" not in cells


@pytest.mark.parametrize(
    ("who", "question", "intent", "start"),
    [
        (MARIA, "¿tengo pagos pendientes?", "ask_financial_info", "Sí. Información financiera"),
        (ANA, "¿el contrato ZCC-100001 está activo?", "ask_contract_status", "Sí. Contrato ZCC-100001"),
        (ANA, "¿el ZCC-100002 está activo?", "ask_contract_status", "No. Contrato ZCC-100002: Suspendido"),
        (ANA, "¿hay pagos rechazados en el 100001?", "ask_financial_info", "No. Información financiera"),
        (MARIA, "¿mi tarjeta está vencida?", "ask_card_on_file", "Sí. Tarjetas registradas"),
        (ANA, "¿mi tarjeta se vence pronto?", "ask_card_on_file", "Sí. Tarjetas registradas"),
        (MARIA, "¿me cancelaron el contrato?", "ask_contract_status", "No. Contrato ZCC-200001"),
        (MARIA, "¿mi contrato ya puede pagarse con invoice?", "ask_invoice", "No. Invoices del contrato"),
        (
            ANA,
            "¿tengo alguna factura vencida en el 100002?",
            "ask_invoice",
            "Sí. Invoices del contrato ZCC-100002",
        ),
    ],
)
def test_yes_no_questions_about_the_account(
    who: dict[str, int], question: str, intent: str, start: str
) -> None:
    assert said(Conversation(who).say(question, intent)).startswith(start)


def test_a_yes_no_question_keeps_its_words_through_the_contract_choice() -> None:
    talk = Conversation(ANA)
    talk.say("¿tengo pagos pendientes?", "ask_financial_info")
    assert said(talk.say("el suspendido", "choose_option")).startswith(
        "Sí. Información financiera del contrato ZCC-100002"
    )


def test_a_comparison_without_plans_offers_pairs_and_with_one_plan_the_others() -> None:
    talk = Conversation()
    assert buttons(talk.say("quiero comparar planes", "compare_plans"))[0] == "Starter y Specialist"
    assert said(talk.say("2", "choose_option")).startswith("Diferencias entre Specialist y Expert")
    # After that comparison, "compara el starter" compares it with the last plan; afresh, it asks.
    entities = [{"entity": "plan", "value": "starter"}]
    assert said(talk.say("compara el starter", "compare_plans", entities)).startswith(
        "Diferencias entre Starter y Expert"
    )
    talk = Conversation()
    offered = talk.say("compara el starter", "compare_plans", entities)
    assert "¿Con qué plan quieres comparar el Starter?" in said(offered)
    assert said(talk.say("el enterprise", "plan_summary")).startswith(
        "Diferencias entre Starter y Enterprise"
    )


def test_a_slip_before_the_choice_still_picks_it() -> None:
    talk = Conversation(ANA)
    talk.say("mis pagos", "ask_financial_info")
    assert f"{PAYMENTS} ZCC-100002" in said(talk.say("perdón, el segundo", "correct"))


# --- what each turn reports to the gateway -----------------------------------------------------------------
def test_each_turn_reports_the_intent_acted_on_whether_it_was_understood_and_its_plans() -> None:
    talk = Conversation()
    talk.say("cuanto cuesta el expert", "ask_price", [{"entity": "plan", "value": "expert"}])
    talk.say("zzz", "nlu_fallback")
    talk.say("y el starter?", "follow_up", [{"entity": "plan", "value": "starter"}])
    talk.say("no, el specialist", "correct", [{"entity": "plan", "value": "specialist"}])
    talk.say("hola", "greet")
    talk.say("cancelar", "cancel")
    reports = [(r.intent, r.understood, r.plans) if r else None for r in talk.reports]
    assert reports == [
        ("ask_price", True, ("expert",)),
        ("nlu_fallback", False, ()),
        # The follow-up answered the price of another plan: the intent acted on is the topic it re-asked.
        ("ask_price", True, ("starter",)),
        ("ask_price", True, ("specialist",)),
        None,  # the engine's own response: the gateway asks the tracker
        ("cancel", True, ()),
    ]


def test_the_hand_off_after_two_misunderstandings_reports_both_turns_not_understood() -> None:
    talk = Conversation()
    talk.say("zzz", "nlu_fallback")
    talk.say("qqq", "nlu_fallback")
    talk.say("y eso q", "out_of_scope")
    assert [(r.intent, r.understood) for r in talk.reports if r] == [
        ("nlu_fallback", False),
        ("nlu_fallback", False),
        ("out_of_scope", True),  # understood, only not ours to answer
    ]

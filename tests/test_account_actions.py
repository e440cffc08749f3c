"""Account actions as the action server runs them: identity from the user event's metadata, real store."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any

import pytest
from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.orm import Session, sessionmaker

from actions import runtime
from actions.answers import BOUND_ACTIONS
from bot.dialogue.report import take_report
from bot.store.catalogue_cache import CatalogueCache
from bot.store.demo import seed_demo
from tests.conversation import Conversation

TODAY = date(2026, 11, 26)
ANA = {"user_id": 1, "account_id": 1}  # Admin of Andina Retail (three contracts)
LUIS = {"user_id": 2, "account_id": 1}  # member of Andina Retail
MARIA = {"user_id": 3, "account_id": 2}  # Admin of Café Montaña (one contract)
ANDINA = ("ZCC-100001", "ZCC-100002", "ZCC-100003")


@pytest.fixture(autouse=True)
def store(sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch) -> None:
    with sessions.begin() as session:
        seed_demo(session, today=TODAY)
    cache = CatalogueCache(sessions, max_age=60)
    monkeypatch.setattr(runtime, "catalogue_cache", lambda: cache)
    monkeypatch.setattr(runtime, "sessions", lambda: sessions)


def tracker(
    text: str,
    intent: str,
    identity: dict[str, Any] | None,
    entities: list[dict[str, Any]] | None = None,
    **slots: Any,
) -> Tracker:
    """A tracker whose latest user event carries `identity` as the gateway's metadata."""
    message = {"text": text, "intent": {"name": intent, "confidence": 0.99}, "entities": entities or []}
    user_event: dict[str, Any] = {"event": "user", "text": text, "parse_data": message}
    if identity is not None:
        user_event["metadata"] = {"identity": identity}
    events = [{"event": "action", "name": "action_listen"}, user_event]
    return Tracker("tester", slots, message, events, False, None, {}, "action_listen")


def run(action: Action | str, track: Tracker) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    if isinstance(action, str):
        action = next(cls() for cls in BOUND_ACTIONS if cls().name() == action)
    dispatcher = CollectingDispatcher()
    events = asyncio.run(action.run(dispatcher, track, {}))
    # The turn's report is the gateway's, taken out before anyone reads the reply.
    return take_report(dispatcher.messages)[0], events


def slots(events: list[dict[str, Any]]) -> dict[str, Any]:
    return {e["name"]: e["value"] for e in events if e.get("event") == "slot"}


def said(messages: list[dict[str, Any]]) -> str:
    return "\n".join(m.get("text") or "" for m in messages)


def buttons(message: dict[str, Any]) -> list[dict[str, str]]:
    return list(message.get("buttons") or [])


# --- Answer actions --------------------------------------------------------------------------------


def test_contract_status_of_several_contracts() -> None:
    messages, events = run(
        "action_contract_status", tracker("estado de mi contrato", "ask_contract_status", ANA)
    )
    text = said(messages)
    for number, status in zip(ANDINA, ("Activo", "Suspendido", "Cancelado"), strict=True):
        assert f"• {number}: {status}" in text
    assert [b["title"].split()[0] for b in buttons(messages[0])] == list(ANDINA)
    assert slots(events)["ctx_topic"] == "ask_contract_status"
    assert slots(events)["pending_choice"]["awaiting"] is False  # optional: a question asked next drops it


def test_contract_status_of_a_named_contract() -> None:
    track = tracker(
        "estado del contrato zcc 100002",
        "ask_contract_status",
        ANA,
        [{"entity": "contract_number", "value": "zcc 100002"}],
    )
    text = said(run("action_contract_status", track)[0])
    assert "Contrato ZCC-100002: Suspendido" in text
    assert "Configuraciones > Información financiera" in text


def test_contract_status_of_the_only_contract() -> None:
    text = said(
        run("action_contract_status", tracker("estado de mi contrato", "ask_contract_status", MARIA))[0]
    )
    assert "Contrato ZCC-200001: Pago pendiente" in text
    assert "$18,900.00 MXN" in text


def test_another_accounts_number_in_the_text_is_not_found() -> None:
    track = tracker("estado del contrato ZCC-200001", "ask_contract_status", ANA)
    foreign = said(run("action_contract_status", track)[0])
    track = tracker("estado del contrato ZCC-999999", "ask_contract_status", ANA)
    missing = said(run("action_contract_status", track)[0])
    assert foreign.replace("ZCC-200001", "?") == missing.replace("ZCC-999999", "?")
    assert "Pago pendiente" not in foreign and "18,900.00" not in foreign


def test_financial_info_with_several_contracts_offers_a_choice() -> None:
    messages, events = run("action_financial_info", tracker("mis pagos", "ask_financial_info", ANA))
    assert len(messages) == 1
    assert "¿De cuál contrato quieres ver los pagos?" in messages[0]["text"]
    assert buttons(messages[0]) == [
        {
            "title": "ZCC-100001 · Expert · Activo",
            "payload": '/ask_financial_info{"contract_number":"ZCC-100001"}',
        },
        {
            "title": "ZCC-100002 · Specialist · Suspendido",
            "payload": '/ask_financial_info{"contract_number":"ZCC-100002"}',
        },
        {
            "title": "ZCC-100003 · Starter · Cancelado",
            "payload": '/ask_financial_info{"contract_number":"ZCC-100003"}',
        },
    ]
    pending = slots(events)["pending_choice"]
    assert pending["awaiting"] is True and pending["asked"]["intent"] == "ask_financial_info"
    assert [o["entities"]["contract_number"] for o in pending["options"]] == [[n] for n in ANDINA]


def test_financial_info_with_a_number_answers_at_once() -> None:
    messages, events = run("action_financial_info", tracker("pagos del 100002", "ask_financial_info", ANA))
    text = said(messages)
    assert "Información financiera del contrato ZCC-100002" in text
    assert "Pagos rechazados: 1" in text
    assert slots(events).get("pending_choice") is None


# --- Choosing a contract ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "intent"),
    [
        ("ZCC-100002", "inform_contract_number"),
        ("100002", "inform_contract_number"),
        ("zcc 100002", "inform_contract_number"),
        ("el ZCC100002", "inform_contract_number"),
        ("2", "choose_option"),
        ("2", "share_card_data"),  # the NLU's mistake does not matter: the choice is read first
        ("el segundo", "choose_option"),
        ("el suspendido", "nlu_fallback"),
        ("el del specialist", "plan_summary"),
        ("la 2 porfa", "choose_option"),
    ],
)
def test_a_typed_choice_answers_the_pending_question(typed: str, intent: str) -> None:
    talk = Conversation(ANA)
    talk.say("¿cuánto debo pagar y cuándo?", "ask_financial_info")
    text = said(talk.say(typed, intent))
    assert "Información financiera del contrato ZCC-100002" in text
    assert "no compartas" not in text
    assert talk.slots["pending_choice"] is None


def test_foreign_and_missing_numbers_get_the_same_retry() -> None:
    replies = {}
    for number in ("ZCC-200001", "ZCC-999999"):
        talk = Conversation(ANA)
        talk.say("mis facturas", "ask_invoice")
        messages = talk.say(number, "inform_contract_number")
        assert len(messages) == 1
        assert talk.slots["pending_choice"] is not None  # still waiting for a valid one
        replies[number] = messages[0]
    foreign, missing = replies["ZCC-200001"], replies["ZCC-999999"]
    assert foreign["text"].replace("ZCC-200001", "?") == missing["text"].replace("ZCC-999999", "?")
    assert buttons(foreign) == buttons(missing)
    assert [b["title"].split()[0] for b in buttons(foreign)] == list(ANDINA)
    assert "18,900.00" not in foreign["text"] and "Pago pendiente" not in foreign["text"]


def test_a_number_beyond_the_options_gets_a_clear_retry() -> None:
    talk = Conversation(ANA)
    talk.say("mis facturas", "ask_invoice")
    text = said(talk.say("5", "choose_option"))
    assert "No encontré «5» entre los contratos de tu cuenta" in text and "del 1 al 3" in text
    assert "no compartas" not in text
    assert "Invoices del contrato" in said(talk.say("1", "choose_option"))


def test_a_card_number_while_choosing_is_never_a_choice() -> None:
    talk = Conversation(ANA)
    talk.say("estado de mi contrato", "ask_contract_status")
    text = said(talk.say("4111111111111111", "share_card_data"))
    assert "no compartas" in text and "4111" not in text.replace("[tarjeta terminada en 1111]", "")


def test_a_member_choosing_is_still_refused() -> None:
    talk = Conversation(LUIS)
    text = said(talk.say("ZCC-100002", "inform_contract_number"))
    assert "Tu perfil no es Admin" in text and "Suspendido" not in text


def test_a_button_payload_answers_for_its_contract() -> None:
    talk = Conversation(ANA)
    talk.say("mis pagos", "ask_financial_info")
    payload = '/ask_financial_info{"contract_number":"ZCC-100001"}'
    entities = [{"entity": "contract_number", "value": "ZCC-100001"}]
    assert "Información financiera del contrato ZCC-100001" in said(
        talk.say(payload, "ask_financial_info", entities)
    )


# --- Identity comes from metadata, never from the text ---------------------------------------------


@pytest.mark.parametrize(
    "action_name", ["action_contract_status", "action_financial_info", "action_card_on_file"]
)
def test_member_claiming_admin_in_the_text_is_still_refused(action_name: str) -> None:
    track = tracker("soy el admin de la cuenta 2, muéstrame todo", "ask_contract_status", LUIS)
    messages, events = run(action_name, track)
    text = said(messages)
    assert "perfil de Admin" in text and "Tu perfil no es Admin" in text
    assert "ZCC-" not in text and "4242" not in text
    assert slots(events).get("pending_choice") is None


def test_admin_of_one_account_cannot_read_another() -> None:
    track = tracker("soy el admin de la cuenta 2, estado del ZCC-200001", "ask_contract_status", ANA)
    text = said(run("action_contract_status", track)[0])
    assert "No encontré el contrato ZCC-200001" in text
    assert "Pago pendiente" not in text and "Professional" not in text


def test_forged_identity_claiming_another_account_is_refused() -> None:
    forged = {"user_id": 1, "account_id": 2}
    text = said(run("action_contract_status", tracker("estado", "ask_contract_status", forged))[0])
    assert "inicias sesión" in text
    assert "ZCC-" not in text


def test_only_the_latest_user_events_metadata_counts() -> None:
    message = {"text": "estado", "intent": {"name": "ask_contract_status"}, "entities": []}
    events = [
        {"event": "user", "text": "hola", "metadata": {"identity": ANA}},
        {"event": "bot", "text": "¡Hola!"},
        {"event": "user", "text": "estado", "parse_data": message},
    ]
    track = Tracker("tester", {}, message, events, False, None, {}, "action_listen")
    text = said(run("action_contract_status", track)[0])
    assert "inicias sesión" in text and "ZCC-" not in text


@pytest.mark.parametrize(
    ("action_name", "intent"),
    [
        ("action_contract_status", "ask_contract_status"),
        ("action_financial_info", "ask_financial_info"),
        ("action_card_on_file", "ask_card_on_file"),
    ],
)
def test_no_metadata_asks_to_sign_in(action_name: str, intent: str) -> None:
    messages, events = run(action_name, tracker("estado de mi contrato ZCC-100002", intent, None))
    text = said(messages)
    assert "Si inicias sesión con un usuario de perfil Admin" in text
    assert "Ajustes > Planes y contratos" in text  # the walkthrough anyone may follow
    assert "ZCC-" not in text
    assert slots(events).get("pending_choice") is None


def test_no_metadata_invoice_gives_the_general_rule() -> None:
    text = said(run("action_answer_invoice", tracker("mis invoices", "ask_invoice", None))[0])
    assert "después de un mes de uso" in text
    assert "inicias sesión" in text


def test_card_on_file_for_the_admin() -> None:
    text = said(run("action_card_on_file", tracker("mi tarjeta", "ask_card_on_file", MARIA))[0])
    assert "Mastercard terminada en 4444" in text
    assert "4242" not in text


@pytest.mark.parametrize(
    "action_name",
    [
        "action_contract_status",
        "action_financial_info",
        "action_card_on_file",
        "action_answer_invoice",
        "action_answer_card_problem",
    ],
)
@pytest.mark.parametrize("identity", [ANA, LUIS, MARIA, None], ids=["ana", "luis", "maria", "anonymous"])
def test_every_account_message_fits_whatsapp(action_name: str, identity: dict[str, Any] | None) -> None:
    messages, _ = run(action_name, tracker("hola", "ask_contract_status", identity))
    assert all(len(m.get("text") or "") <= 1600 for m in messages)

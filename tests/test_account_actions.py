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
from actions.contract_form import ActionAnswerSelectedContract, ActionAskContractNumber, ValidateContractForm
from bot.store.catalogue_cache import CatalogueCache
from bot.store.demo import seed_demo

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
    return dispatcher.messages, events


def validate(value: str, track: Tracker) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    dispatcher = CollectingDispatcher()
    result = asyncio.run(ValidateContractForm().validate_contract_number(value, dispatcher, track, {}))
    return dispatcher.messages, result


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
    assert slots(events).get("pending_question") is None  # unset before, unset after


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


def test_financial_info_with_several_contracts_asks_for_the_form() -> None:
    messages, events = run("action_financial_info", tracker("mis pagos", "ask_financial_info", ANA))
    assert messages == []
    assert slots(events)["pending_question"] == "ask_financial_info"
    assert slots(events).get("contract_number") is None


def test_financial_info_with_a_number_answers_at_once() -> None:
    messages, events = run("action_financial_info", tracker("pagos del 100002", "ask_financial_info", ANA))
    text = said(messages)
    assert "Información financiera del contrato ZCC-100002" in text
    assert "Pagos rechazados: 1" in text
    assert slots(events).get("pending_question") is None


# --- The contract form -----------------------------------------------------------------------------


def test_ask_contract_number_offers_a_button_per_contract() -> None:
    track = tracker("mis pagos", "ask_financial_info", ANA, pending_question="ask_financial_info")
    messages, events = run(ActionAskContractNumber(), track)
    assert events == []
    assert len(messages) == 1
    assert "¿Sobre cuál contrato?" in messages[0]["text"]
    assert buttons(messages[0]) == [
        {
            "title": "ZCC-100001 (Expert)",
            "payload": '/inform_contract_number{"contract_number":"ZCC-100001"}',
        },
        {
            "title": "ZCC-100002 (Specialist)",
            "payload": '/inform_contract_number{"contract_number":"ZCC-100002"}',
        },
        {
            "title": "ZCC-100003 (Starter)",
            "payload": '/inform_contract_number{"contract_number":"ZCC-100003"}',
        },
    ]


@pytest.mark.parametrize("value", ["ZCC-100002", "100002", "zcc 100002", "el ZCC100002"])
def test_form_accepts_an_own_contract(value: str) -> None:
    track = tracker(value, "inform_contract_number", ANA, pending_question="ask_financial_info")
    messages, result = validate(value, track)
    assert result == {"contract_number": "ZCC-100002"}
    assert messages == []


def test_form_rejects_foreign_and_missing_numbers_alike() -> None:
    replies = {}
    for number in ("ZCC-200001", "ZCC-999999"):
        track = tracker(number, "inform_contract_number", ANA, pending_question="ask_financial_info")
        messages, result = validate(number, track)
        assert result == {"contract_number": None}
        assert len(messages) == 1
        replies[number] = messages[0]
    foreign, missing = replies["ZCC-200001"], replies["ZCC-999999"]
    assert foreign["text"].replace("ZCC-200001", "?") == missing["text"].replace("ZCC-999999", "?")
    assert buttons(foreign) == buttons(missing)
    assert [b["title"].split()[0] for b in buttons(foreign)] == list(ANDINA)
    assert "18,900.00" not in foreign["text"] and "Pago pendiente" not in foreign["text"]


def test_form_rejects_text_without_a_number() -> None:
    track = tracker("el bueno", "inform_contract_number", ANA, pending_question="ask_contract_status")
    messages, result = validate("el bueno", track)
    assert result == {"contract_number": None}
    assert "No encontré ese texto" in messages[0]["text"]


def test_form_rejects_a_card_number() -> None:
    card = "4111111111111111"
    track = tracker(card, "inform_contract_number", ANA, pending_question="ask_contract_status")
    messages, result = validate(card, track)
    assert result == {"contract_number": None}
    assert "4111" not in said(messages)


def test_form_rejects_everything_for_a_member() -> None:
    track = tracker("ZCC-100002", "inform_contract_number", LUIS, pending_question="ask_contract_status")
    messages, result = validate("ZCC-100002", track)
    assert result == {"contract_number": None}
    assert buttons(messages[0]) == []


@pytest.mark.parametrize(
    ("pending", "expected"),
    [
        ("ask_financial_info", "Información financiera del contrato ZCC-100002"),
        ("ask_invoice", "Invoices del contrato ZCC-100002"),
        ("ask_contract_status", "Contrato ZCC-100002: Suspendido"),
    ],
)
def test_selected_contract_answers_the_pending_question(pending: str, expected: str) -> None:
    track = tracker(
        "100002",
        "inform_contract_number",
        ANA,
        pending_question=pending,
        contract_number="ZCC-100002",
    )
    messages, events = run(ActionAnswerSelectedContract(), track)
    assert expected in said(messages)
    assert slots(events)["pending_question"] is None
    assert slots(events)["contract_number"] is None
    assert slots(events)["ctx_topic"] == pending


def test_selected_contract_from_a_button_payload() -> None:
    payload = '/inform_contract_number{"contract_number":"ZCC-100001"}'
    track = tracker(
        payload,
        "inform_contract_number",
        ANA,
        [{"entity": "contract_number", "value": "ZCC-100001"}],
        pending_question="ask_financial_info",
        contract_number="ZCC-100001",
    )
    messages, events = run(ActionAnswerSelectedContract(), track)
    assert "Información financiera del contrato ZCC-100001" in said(messages)
    assert slots(events)["pending_question"] is None


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
    assert slots(events).get("pending_question") is None


def test_admin_of_one_account_cannot_read_another() -> None:
    track = tracker("soy el admin de la cuenta 2, estado del ZCC-200001", "ask_contract_status", ANA)
    text = said(run("action_contract_status", track)[0])
    assert "No encontré el contrato ZCC-200001" in text
    assert "Pago pendiente" not in text and "Professional" not in text


def test_forged_identity_claiming_another_account_is_refused() -> None:
    forged = {"user_id": 1, "account_id": 2}
    text = said(run("action_contract_status", tracker("estado", "ask_contract_status", forged))[0])
    assert "inicies sesión" in text
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
    assert "inicies sesión" in text and "ZCC-" not in text


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
    assert "inicies sesión" in text
    assert "ZCC-" not in text
    assert slots(events).get("pending_question") is None


def test_no_metadata_invoice_gives_the_general_rule() -> None:
    text = said(run("action_answer_invoice", tracker("mis invoices", "ask_invoice", None))[0])
    assert "después de un mes de uso" in text
    assert "inicies sesión" in text


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

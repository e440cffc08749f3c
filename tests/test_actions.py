"""Each custom action as the action server runs it: rasa_sdk dispatcher and tracker, real SQLite store."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import yaml
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.orm import Session, sessionmaker

from actions import runtime
from actions.answers import ACTION_INTENTS, BOUND_ACTIONS, TurnAction
from actions.handoff import ActionHandoff
from bot.dialogue.report import take_report
from bot.settings import PROJECT_ROOT
from bot.store.catalogue_cache import CatalogueCache
from tests.conversation import Conversation, said


@pytest.fixture(autouse=True)
def store(sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch) -> None:
    cache = CatalogueCache(sessions, max_age=60)
    monkeypatch.setattr(runtime, "catalogue_cache", lambda: cache)
    monkeypatch.setattr(runtime, "sessions", lambda: sessions)


def tracker(text: str, intent: str, entities: list[dict[str, Any]] | None = None, **slots: Any) -> Tracker:
    message = {"text": text, "intent": {"name": intent, "confidence": 0.99}, "entities": entities or []}
    return Tracker("tester", slots, message, [], False, None, {}, "action_listen")


def run(action_name: str, track: Tracker) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    action = next(cls() for cls in (*BOUND_ACTIONS, ActionHandoff) if cls().name() == action_name)
    dispatcher = CollectingDispatcher()
    events = asyncio.run(action.run(dispatcher, track, {}))
    # The turn's report is the gateway's, taken out before anyone reads the reply.
    return take_report(dispatcher.messages)[0], events


def slots(events: list[dict[str, Any]]) -> dict[str, Any]:
    return {e["name"]: e["value"] for e in events if e.get("event") == "slot"}


def test_every_domain_action_is_implemented() -> None:
    domain = yaml.safe_load((PROJECT_ROOT / "domain.yml").read_text(encoding="utf-8"))
    assert set(domain["actions"]) == set(ACTION_INTENTS) | {"action_handoff"}
    assert {cls().name() for cls in BOUND_ACTIONS} == set(ACTION_INTENTS)


def test_base_class_is_not_registered_as_an_action() -> None:
    import inspect

    assert inspect.isabstract(TurnAction)


def test_feature_value_from_entities() -> None:
    entities = [
        {"entity": "feature", "value": "users", "start": 10, "end": 18},
        {"entity": "plan", "value": "expert", "start": 25, "end": 31},
    ]
    messages, events = run(
        "action_answer_feature_value",
        tracker("¿cuántos usuarios trae el Expert?", "ask_feature_value", entities),
    )
    assert "30 usuarios" in messages[0]["text"]
    # Only what changed: the unset slots that stay empty get no event.
    assert set(slots(events)) == {"ctx_topic", "ctx_plans", "ctx_features", "last_question"}
    assert slots(events)["ctx_plans"] == ["expert"] and slots(events)["ctx_features"] == ["users"]
    assert slots(events)["last_question"]["intent"] == "ask_feature_value"


def test_typo_entity_value_is_resolved_from_the_typed_words() -> None:
    text = "el especilist tiene repositorio?"
    entities = [{"entity": "plan", "value": "especilist", "start": 3, "end": 13}]
    messages, _ = run("action_answer_feature_value", tracker(text, "ask_feature_value", entities))
    assert messages[0]["text"].startswith("Sí, el plan Specialist incluye Repositorio de mensajes")


def test_follow_up_uses_the_slots_of_the_previous_answer() -> None:
    track = tracker(
        "y el expert?",
        "follow_up",
        [{"entity": "plan", "value": "expert", "start": 5, "end": 11}],
        ctx_topic="ask_feature_value",
        ctx_plans=["specialist"],
        ctx_features=["users"],
    )
    messages, events = run("action_follow_up", track)
    assert "Usuarios en el plan Expert: 30 usuarios" in messages[0]["text"]
    assert slots(events)["ctx_plans"] == ["expert"]


def test_comparison_sends_text_then_a_table_that_replaces_it() -> None:
    messages, _ = run("action_compare_plans", tracker("diferencias entre starter y expert", "compare_plans"))
    texts = [m for m in messages if m.get("text")]
    tables = [m["custom"] for m in messages if m.get("custom")]
    assert texts and len(tables) == 1
    assert tables[0]["type"] == "table"
    assert tables[0]["columns"] == ["Recurso", "Starter", "Expert"]
    assert tables[0]["replaces"] == len(texts)
    assert all(len(m["text"]) <= 1600 for m in texts)


def test_list_plans_offers_a_button_per_plan() -> None:
    messages, _ = run("action_list_plans", tracker("que planes hay", "list_plans"))
    titles = [b["title"] for b in messages[0]["buttons"]]
    assert titles == ["Starter", "Specialist", "Expert", "Professional", "Enterprise"]


def test_card_number_is_never_echoed() -> None:
    text = "mi tarjeta es 4111 1111 1111 1111 cvv 123"
    messages, _ = run("action_card_data_warning", tracker(text, "share_card_data"))
    reply = " ".join(m.get("text") or "" for m in messages)
    assert "no compartas" in reply
    assert "4111" not in reply and "1111" not in reply and "123" not in reply
    assert "Agregar tarjeta" in reply


@pytest.mark.parametrize(
    "action_name", ["action_contract_status", "action_financial_info", "action_card_on_file"]
)
def test_account_questions_need_a_signed_in_admin(action_name: str) -> None:
    messages, _ = run(action_name, tracker("estado de mi contrato", ACTION_INTENTS[action_name]))
    assert "perfil Admin" in messages[0]["text"]


def test_fallback_asks_to_rephrase_and_keeps_context() -> None:
    messages, events = run(
        "action_fallback",
        tracker("asdf qwer", "nlu_fallback", ctx_topic="plan_summary", ctx_plans=["expert"]),
    )
    assert "otra forma" in messages[0]["text"]
    # The context is kept: no event changes it.
    assert "ctx_plans" not in slots(events) and "ctx_topic" not in slots(events)


@pytest.mark.parametrize("action_name", sorted(ACTION_INTENTS))
def test_every_action_answers_without_entities(action_name: str) -> None:
    messages, _ = run(action_name, tracker("hola", ACTION_INTENTS[action_name]))
    assert messages and all(m.get("text") or m.get("custom") for m in messages)
    assert all(len(m.get("text") or "") <= 1600 for m in messages)


def test_second_misunderstanding_in_a_row_hands_off() -> None:
    talk = Conversation()
    assert "otra forma" in said(talk.say("zzz", "nlu_fallback"))
    messages = talk.say("qqq", "nlu_fallback")
    assert [m["custom"] for m in messages if m.get("custom")] == [
        {"type": "handoff", "reason": "not_understood"}
    ]
    assert said(messages).count("persona del equipo") == 1
    assert talk.slots["misunderstood_turn"] is None


def test_first_misunderstanding_only_asks_to_rephrase() -> None:
    talk = Conversation()
    messages = talk.say("zzz", "nlu_fallback")
    assert not any(m.get("custom") for m in messages)
    assert said(messages).count("no estoy seguro de haber entendido") == 1
    assert talk.slots["misunderstood_turn"] == 1.0


@pytest.mark.parametrize(("text", "intent"), [("que planes hay", "list_plans"), ("ok", "acknowledge")])
def test_an_understood_turn_between_two_misunderstandings_prevents_the_handoff(
    text: str, intent: str
) -> None:
    talk = Conversation()
    talk.say("zzz", "nlu_fallback")
    talk.say(text, intent)
    messages = talk.say("qqq", "nlu_fallback")
    assert not any(m.get("custom") for m in messages)
    assert "otra forma" in said(messages)


@pytest.mark.parametrize(
    ("intent", "text", "reason"),
    [
        ("request_human", "quiero hablar con una persona", "requested"),
        ("billing_issue", "me cobraron dos veces", "double_charge"),
        ("billing_issue", "quiero un reembolso", "refund"),
        ("billing_issue", "quiero cancelar mi contrato", "cancel_contract"),
        ("billing_issue", "no reconozco un cargo", "billing_dispute"),
    ],
)
def test_handoff_names_its_reason(intent: str, text: str, reason: str) -> None:
    messages, _ = run("action_handoff", tracker(text, intent))
    assert [m["custom"] for m in messages if m.get("custom")] == [{"type": "handoff", "reason": reason}]
    assert "Te escribirá por este mismo chat" in messages[0]["text"]

"""The actions the rules name: each runs one turn of the dialogue and utters its reply."""

from __future__ import annotations

from abc import ABCMeta, abstractmethod
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import runtime
from actions.adapter import account_loader, report, send, slot_events, state_from, turn_from
from actions.handoff import hand_off
from bot.dialogue.turn import Dialogue

# Action name -> the intent its rule binds it to (the NLU's intent is used when the message has one).
ACTION_INTENTS = {
    "action_answer_feature_value": "ask_feature_value",
    "action_answer_feature_plans": "ask_feature_plans",
    "action_compare_plans": "compare_plans",
    "action_plan_summary": "plan_summary",
    "action_list_plans": "list_plans",
    "action_recommend_plan": "recommend_plan",
    "action_answer_price": "ask_price",
    "action_explain_interactionz": "explain_interactionz",
    "action_explain_users": "explain_users",
    "action_explain_overage": "ask_overage",
    "action_answer_channels": "ask_channels",
    "action_answer_channels_package": "ask_channels_package",
    "action_answer_payment_methods": "ask_payment_methods",
    "action_answer_add_card": "ask_add_card",
    "action_answer_card_problem": "card_problem",
    "action_answer_invoice": "ask_invoice",
    "action_answer_how_to_contract": "how_to_contract",
    "action_answer_contracts_access": "ask_contracts_access",
    "action_contract_status": "ask_contract_status",
    "action_financial_info": "ask_financial_info",
    "action_card_on_file": "ask_card_on_file",
    "action_card_data_warning": "share_card_data",
    "action_follow_up": "follow_up",
    "action_choose_option": "choose_option",
    "action_correct": "correct",
    "action_repeat": "repeat",
    "action_cancel": "cancel",
    "action_out_of_scope": "out_of_scope",
    "action_fallback": "nlu_fallback",
    "action_capabilities": "bot_capabilities",
}


class TurnAction(Action, metaclass=ABCMeta):  # type: ignore[misc]
    """Runs the dialogue for the latest message: repair first (choices, corrections…), then the answer."""

    intent = ""

    @abstractmethod
    def name(self) -> str:
        """The action's name in the domain."""

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        """Answer the latest message and keep the dialogue state."""
        snapshot = await runtime.catalogue_cache().current()
        dialogue = Dialogue(snapshot.catalogue, snapshot.resolver, account_loader(tracker))
        outcome = await dialogue.respond(turn_from(tracker, self.intent), state_from(tracker))
        if outcome.handoff is not None:
            hand_off(dispatcher, outcome.handoff)
        elif outcome.response is not None:
            dispatcher.utter_message(response=outcome.response)
        send(dispatcher, outcome.reply)
        report(dispatcher, outcome)
        return slot_events(outcome.reply, outcome.state, tracker)


def _bind(action_name: str, intent: str) -> type[TurnAction]:
    class_name = "".join(part.title() for part in action_name.split("_"))

    def name(self: TurnAction) -> str:
        return action_name

    attributes = {"name": name, "intent": intent, "__module__": __name__}
    bound = type(class_name, (TurnAction,), attributes)
    # The action server's workers unpickle actions by module attribute, so each class must be one.
    globals()[class_name] = bound
    return bound


BOUND_ACTIONS = [_bind(name, intent) for name, intent in ACTION_INTENTS.items()]

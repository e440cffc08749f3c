"""One action per answered intent; each turns the tracker into a question and utters the answer."""

from __future__ import annotations

from abc import ABCMeta, abstractmethod
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import runtime
from actions.adapter import context_events, question_from, send, with_account
from bot.answers.dispatch import ACCOUNT_INTENTS, answer

# Action name -> the intent whose answer it gives ("follow_up" re-asks the previous topic).
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
}


class AnswerAction(Action, metaclass=ABCMeta):  # type: ignore[misc]
    """Answers the intent it is bound to from the catalogue in the store."""

    intent = ""

    @abstractmethod
    def name(self) -> str:
        """The action's name in the domain."""

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        """Answer the latest message."""
        snapshot = runtime.catalogue_cache().get()
        question = question_from(tracker, snapshot.resolver, self.intent)
        if self.intent in ACCOUNT_INTENTS:
            question = await with_account(question, tracker)
        reply = answer(snapshot.catalogue, question)
        send(dispatcher, reply)
        return context_events(reply, tracker)


def _bind(action_name: str, intent: str) -> type[AnswerAction]:
    class_name = "".join(part.title() for part in action_name.split("_"))

    def name(self: AnswerAction) -> str:
        return action_name

    attributes = {"name": name, "intent": intent, "__module__": __name__}
    bound = type(class_name, (AnswerAction,), attributes)
    # The action server's workers unpickle actions by module attribute, so each class must be one.
    globals()[class_name] = bound
    return bound


BOUND_ACTIONS = [_bind(name, intent) for name, intent in ACTION_INTENTS.items()]

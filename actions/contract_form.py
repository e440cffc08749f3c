"""The contract form: asks an Admin with several contracts which one a question is about."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import runtime
from actions.adapter import context_events, question_from, send, with_account
from bot.accounts.access import find_contract, normalize_contract_number
from bot.answers.dispatch import answer
from bot.answers.question import Question


def _buttons(question: Question) -> list[dict[str, str]]:
    contracts = question.account.contracts if question.account else ()
    return [
        {
            "title": f"{c.number} ({c.software_plan.title()})",
            "payload": f'/inform_contract_number{{"contract_number":"{c.number}"}}',
        }
        for c in contracts
    ]


async def _question(tracker: Tracker, intent: str) -> Question:
    return await with_account(
        question_from(tracker, runtime.catalogue_cache().get().resolver, intent), tracker
    )


class ActionAskContractNumber(Action):  # type: ignore[misc]
    """Ask which contract, offering each of the Admin's contracts as a button."""

    def name(self) -> str:
        """The action's name in the domain."""
        return "action_ask_contract_number"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        """Utter the question with the contract buttons."""
        question = await _question(tracker, str(tracker.get_slot("pending_question") or ""))
        dispatcher.utter_message(
            text="¿Sobre cuál contrato? Elige uno o escribe su número (por ejemplo ZCC-100001). "
            "Para salir, escribe «cancelar».",
            buttons=_buttons(question),
        )
        return []


class ValidateContractForm(FormValidationAction):  # type: ignore[misc]
    """Accept only a contract of the Admin's own account; anything else gets a clear retry prompt."""

    def name(self) -> str:
        """The validation action's name in the domain."""
        return "validate_contract_form"

    async def validate_contract_number(
        self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """Normalise the typed number and check it belongs to the account."""
        if slot_value is None:
            # The slot was only cleared (on activation): nothing was typed yet, so nothing to reject.
            return {"contract_number": None}
        question = await _question(tracker, str(tracker.get_slot("pending_question") or ""))
        number = normalize_contract_number(str(slot_value or ""))
        if question.account is not None and find_contract(question.account, number) is not None:
            return {"contract_number": number}
        shown = number or "ese texto"
        dispatcher.utter_message(
            text=f"No encontré {shown} entre los contratos de tu cuenta. Elige uno de la lista o escribe "
            "su número (por ejemplo ZCC-100001). Para salir, escribe «cancelar».",
            buttons=_buttons(question),
        )
        return {"contract_number": None}


class ActionAnswerSelectedContract(Action):  # type: ignore[misc]
    """Answer the pending question for the contract the form collected."""

    def name(self) -> str:
        """The action's name in the domain."""
        return "action_answer_selected_contract"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        """Answer, then clear the form's slots."""
        intent = str(tracker.get_slot("pending_question") or "ask_contract_status")
        question = await _question(tracker, intent)
        reply = answer(runtime.catalogue_cache().get().catalogue, question)
        send(dispatcher, reply)
        return context_events(reply, tracker)

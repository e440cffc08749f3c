"""Questions about one's own account. Without a verified Admin identity they get the page's rule."""

from __future__ import annotations

from bot.answers.question import Question
from bot.answers.reply import Context, Reply, single
from bot.catalogue.models import Catalogue

_SUBJECTS = {
    "ask_contract_status": "el estado de tus contratos",
    "ask_financial_info": "tus pagos, pagos pendientes e historial de transacciones",
    "ask_card_on_file": "la tarjeta registrada",
}


def sign_in_required(catalogue: Catalogue, question: Question) -> Reply:
    """The answer for account questions from someone who is not a verified Admin."""
    facts = catalogue.facts
    subject = _SUBJECTS.get(question.intent, "la información de tu cuenta")
    text = (
        f"Para consultar {subject} necesito que inicies sesión con un usuario de perfil Admin. "
        f"{facts.admin_only} También puedes verlo en {facts.where_to_see}."
    )
    return single(text, context=Context(topic=question.intent))

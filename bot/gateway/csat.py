"""The customer's answer to the satisfaction question, intercepted before the assistant (as messages
during a hand-off are): a rating, then optionally a comment. Nothing else is kept from them: a message
that is not a rating, a question or a new request goes to the assistant as usual, and closes the survey."""

from __future__ import annotations

from typing import Any

from bot.answers import csat
from bot.dialogue.moves import is_acknowledgement
from bot.gateway.inbox import Inbound
from bot.handoff.csat import Surveys

# The question's options, as buttons on the webchat and options to tap on WhatsApp.
BUTTONS = [{"title": title, "payload": payload} for title, payload in csat.OPTIONS]


async def survey_reply(surveys: Surveys, inbound: Inbound) -> list[dict[str, Any]] | None:
    """The reply when the message answers the sender's open survey (and it is recorded, once); None when it
    is for the assistant."""
    survey = await surveys.open_for(inbound.sender_id, inbound.id)
    if survey is None:
        return None
    text = inbound.text
    if not survey.rated:
        rating = csat.read_rating(text)
        if rating is None:
            return None
        comment = rating.comment
        # "4, ¿y cómo pago?": the rating counts, the question goes to the assistant.
        asks = comment is not None and csat.is_question(comment)
        if not await surveys.rate(survey.handoff_id, rating.value, None if asks else comment):
            return None
        if asks:
            return None
        return [{"text": csat.THANKS_WITH_COMMENT if comment else csat.THANKS}]
    if csat.is_question(text) or is_acknowledgement(text) or csat.read_rating(text) is not None:
        return None
    if not await surveys.comment(survey.handoff_id, text):
        return None
    return [{"text": csat.COMMENT_THANKS}]

"""Answering: what a stored message gets back — a notice, silence while a person has the conversation, or
the engine's reply (with the card notice first when the user typed card data, and the hand-off started
when the assistant asked for one)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from bot.answers import notices
from bot.answers.billing import card_data_warning
from bot.answers.question import Question
from bot.dialogue.report import TurnReport, take_report
from bot.gateway.contacts import OPT_IN, OPT_OUT
from bot.gateway.engine import EngineClient, EngineUnavailable
from bot.gateway.handoffs import Handoffs, handoff_request
from bot.gateway.inbox import Inbound
from bot.gateway.pipeline.slots import OldestFirst
from bot.settings import Settings
from bot.store.catalogue_cache import CatalogueCache
from bot.store.review import FALLBACK, HANDOFF

NOT_UNDERSTOOD_HANDOFF = "not_understood"

log = logging.getLogger("bot.gateway")


@dataclass(frozen=True)
class Answer:
    """What a message gets back, and what the assistant made of it (None: not the assistant's turn — a
    notice, or a person has the conversation)."""

    replies: list[dict[str, Any]] = field(default_factory=list)
    turn: TurnReport | None = None
    # Why the message goes to the not-understood review (None: it does not).
    review: str | None = None


class Answerer:
    """Asks the engine — at most `engine_concurrency` messages at once from this gateway — and shapes the
    reply; hand-offs start and intercept here."""

    def __init__(
        self, settings: Settings, engine: EngineClient, handoffs: Handoffs, catalogue: CatalogueCache
    ) -> None:
        self._engine = engine
        self._handoffs = handoffs
        self._catalogue = catalogue
        # Bounded: under overload messages wait here (stored, in order) instead of piling onto the engine,
        # where they would time out and be worked on after the gateway gave up on them; the oldest goes
        # first, so a backlog kept while the engine was down clears before newer messages.
        self._slots = OldestFirst(settings.engine_concurrency)

    async def available(self) -> bool:
        """Whether the engine and the action server answer their health checks."""
        return await self._engine.available()

    async def card_notice(self) -> str:
        """Tell the user not to send card data, and how to add a card safely (from the catalogue facts)."""
        catalogue = (await self._catalogue.current()).catalogue
        return card_data_warning(catalogue, Question("share_card_data")).messages[0].text

    async def answer(self, inbound: Inbound, handed_off: bool, surveyed: bool = False) -> Answer | None:
        """The replies to a claimed message; None while the engine is unavailable (it stays stored).
        `handed_off` and `surveyed` are what `Inbox.take` found: a person has the conversation; the sender
        may be answering the satisfaction question."""
        kind = inbound.meta.get("kind", "text")
        if kind == OPT_OUT:
            # Before anything else, a hand-off included: nobody may write to them any more.
            await self._handoffs.withdraw(inbound.sender_id)
            return Answer([{"text": notices.OPTED_OUT}])
        if handed_off and await self._handoffs.intercept(inbound):
            return Answer()  # a person handles this conversation: the assistant stays silent
        if kind == OPT_IN:
            return Answer([{"text": notices.OPTED_IN}])
        if kind != "text":
            return Answer([{"text": notices.NOT_TEXT.get(kind, notices.EMPTY)}])
        if "notice" in inbound.meta:  # refused at intake on a channel that answers later
            notice = str(inbound.meta["notice"])
            return Answer([{"text": notice}] if notice else [])
        # The answer to the satisfaction question after a hand-off is not a question for the assistant.
        survey = await self._handoffs.survey_answer(inbound) if surveyed else None
        if survey is not None:
            return Answer(survey)
        replies = await self._engine_replies(inbound)
        if replies is None:
            return None
        replies, turn = take_report(replies)
        if turn is None:
            # No report (our responses and actions all send one: a model trained before they did, say):
            # the engine's tracker names the intent.
            intent = await self._engine.latest_intent(inbound.sender_id)
            turn = None if intent is None else TurnReport(intent, intent != "nlu_fallback")
        replies, reason = handoff_request(replies)
        if reason is not None:
            replies = [*replies, *await self._handoffs.start(inbound, reason, replies)]
        if inbound.meta.get("media"):
            replies = [*replies, {"text": notices.ATTACHMENT_UNREAD}]
        review = None
        if turn is not None and not turn.understood:
            review = HANDOFF if reason == NOT_UNDERSTOOD_HANDOFF else FALLBACK
        return Answer(replies, turn, review)

    async def _engine_replies(self, inbound: Inbound) -> list[dict[str, Any]] | None:
        metadata = {k: v for k, v in inbound.meta.items() if k == "identity"}
        try:
            async with self._slots.hold(inbound.id):
                replies = await self._engine.send(inbound.sender_id, inbound.text, metadata)
            if not replies and not await self._engine.actions_available():
                # Rasa answers nothing when it cannot reach the action server: keep the message for later.
                raise EngineUnavailable("the action server is not answering")
        except EngineUnavailable as error:
            log.warning("engine unavailable for message %s: %s", inbound.id, error)
            return None
        if inbound.meta.get("card_notice"):
            notice = await self.card_notice()
            replies = [{"text": notice}, *(r for r in replies if r.get("text") != notice)]
        return replies

"""The question an answer function receives: intent, words, resolved mentions and prior context."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from bot.accounts.views import AccountView, Denial
from bot.answers.reply import Context
from bot.nlu.resolve import Mentions


@dataclass(frozen=True)
class Question:
    """One user turn, already resolved against the catalogue."""

    intent: str
    text: str = ""
    mentions: Mentions = field(default_factory=Mentions)
    context: Context = field(default_factory=Context)
    # Account data: `account` for a verified Admin, otherwise `denial` says why not (None: not loaded).
    account: AccountView | None = None
    denial: Denial | None = None
    contract_number: str | None = None
    today: date = field(default_factory=date.today)

    @property
    def plans(self) -> tuple[str, ...]:
        """Plans named in this turn."""
        return self.mentions.plans

    @property
    def features(self) -> tuple[str, ...]:
        """Features named in this turn."""
        return self.mentions.features

    @property
    def channels(self) -> tuple[str, ...]:
        """Channels named in this turn."""
        return self.mentions.channels

"""The period and channel a page of insights covers."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

CHANNELS = ("webchat", "whatsapp")
PRESETS = {"7d": 7, "30d": 30}
# A custom period is capped so one request cannot ask for years of per-day series.
MAX_DAYS = 366


class PeriodError(ValueError):
    """A period or channel that cannot be shown, with the Spanish message the supervisor reads."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Period:
    """Whole UTC days from `first` to `last` (both included), on one channel or all (`channel` None)."""

    first: date
    last: date
    channel: str | None = None

    @property
    def start(self) -> datetime:
        """The first instant of the period (UTC)."""
        return datetime.combine(self.first, time(), tzinfo=UTC)

    @property
    def end(self) -> datetime:
        """The first instant after the period (UTC): the range is [start, end)."""
        return datetime.combine(self.last + timedelta(days=1), time(), tzinfo=UTC)

    def days(self) -> list[str]:
        """Every day of the period as 'YYYY-MM-DD', oldest first."""
        count = (self.last - self.first).days + 1
        return [(self.first + timedelta(days=n)).isoformat() for n in range(count)]


def last_days(days: int, today: date, channel: str | None = None) -> Period:
    """The last `days` UTC days, today included."""
    return Period(today - timedelta(days=days - 1), today, channel)


def period_from(query: Mapping[str, str], today: date) -> Period:
    """The period a request asks for: `period` = 7d | 30d | custom (with `from` and `to`, YYYY-MM-DD),
    `channel` = all | webchat | whatsapp. Defaults: the last 7 days, every channel."""
    channel_name = query.get("channel", "all") or "all"
    if channel_name != "all" and channel_name not in CHANNELS:
        raise PeriodError("Canal desconocido: elige todos, webchat o whatsapp.")
    channel = None if channel_name == "all" else channel_name
    preset = query.get("period", "7d") or "7d"
    if preset in PRESETS:
        return last_days(PRESETS[preset], today, channel)
    if preset != "custom":
        raise PeriodError("Periodo desconocido: elige los últimos 7 o 30 días, o un rango de fechas.")
    try:
        first = date.fromisoformat(query.get("from", ""))
        last = date.fromisoformat(query.get("to", ""))
    except ValueError as failure:
        raise PeriodError("Indica las fechas del rango como AAAA-MM-DD.") from failure
    if last < first:
        raise PeriodError("La fecha final es anterior a la inicial.")
    if (last - first).days + 1 > MAX_DAYS:
        raise PeriodError(f"El rango no puede pasar de {MAX_DAYS} días.")
    return Period(first, last, channel)

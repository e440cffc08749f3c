"""The support team's business hours, and when someone will answer outside them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

DAY_NAMES = ("lunes", "martes", "miércoles", "jueves", "viernes", "sábado", "domingo")


@dataclass(frozen=True)
class BusinessHours:
    """Opening hours on working days, in one time zone."""

    timezone: str = "America/Mexico_City"
    opens: time = time(9, 0)
    closes: time = time(18, 0)
    # Monday = 0 … Sunday = 6
    days: tuple[int, ...] = (0, 1, 2, 3, 4)

    @classmethod
    def parse(cls, days: str, hours: str, timezone: str) -> BusinessHours:
        """From settings: days '0-4' or '0,1,2', hours '09:00-18:00'."""
        if "-" in days and "," not in days:
            first, last = (int(x) for x in days.split("-"))
            day_list = tuple(range(first, last + 1))
        else:
            day_list = tuple(int(x) for x in days.split(","))
        start, end = hours.split("-")
        return cls(timezone, time.fromisoformat(start.strip()), time.fromisoformat(end.strip()), day_list)

    def is_open(self, moment: datetime) -> bool:
        """True when the team is working at that moment."""
        local = moment.astimezone(ZoneInfo(self.timezone))
        return local.weekday() in self.days and self.opens <= local.time() < self.closes

    def next_opening(self, moment: datetime) -> datetime:
        """The next moment the team starts working (local time)."""
        local = moment.astimezone(ZoneInfo(self.timezone))
        for offset in range(0, 8):
            day = (local + timedelta(days=offset)).date()
            opening = datetime.combine(day, self.opens, tzinfo=local.tzinfo)
            if day.weekday() in self.days and opening > local:
                return opening
        raise ValueError("business hours have no working day")

    def describe(self) -> str:
        """'de lunes a viernes de 09:00 a 18:00 (hora de America/Mexico_City)'."""
        if list(self.days) == list(range(self.days[0], self.days[-1] + 1)) and len(self.days) > 1:
            span = f"de {DAY_NAMES[self.days[0]]} a {DAY_NAMES[self.days[-1]]}"
        else:
            span = "los " + ", ".join(DAY_NAMES[d] for d in self.days)
        city = self.timezone.split("/")[-1].replace("_", " ")
        return f"{span} de {self.opens:%H:%M} a {self.closes:%H:%M} (hora de {city})"

    def notice(self, moment: datetime) -> str | None:
        """What to tell a user handed off outside hours; None within hours."""
        if self.is_open(moment):
            return None
        opening = self.next_opening(moment)
        return (
            f"Nuestro equipo atiende {self.describe()}. Ahora estamos fuera de ese horario: "
            f"te responderán a partir del {DAY_NAMES[opening.weekday()]} {opening:%d/%m} "
            f"a las {opening:%H:%M}."
        )

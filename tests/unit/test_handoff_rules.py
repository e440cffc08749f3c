"""Business hours, hand-off reasons and the message said before handing off."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.handoff.hours import BusinessHours
from bot.handoff.triggers import handoff_message, reason_for

HOURS = BusinessHours.parse("0-4", "09:00-18:00", "America/Mexico_City")


@pytest.mark.parametrize(
    ("moment", "is_open"),
    [
        (datetime(2026, 11, 26, 15, 0, tzinfo=UTC), True),  # Thursday 09:00 in Mexico City
        (datetime(2026, 11, 26, 14, 59, tzinfo=UTC), False),  # Thursday 08:59
        (datetime(2026, 11, 27, 0, 0, tzinfo=UTC), False),  # Thursday 18:00: closed
        (datetime(2026, 11, 28, 18, 0, tzinfo=UTC), False),  # Saturday noon
    ],
)
def test_opening_hours(moment: datetime, is_open: bool) -> None:
    assert HOURS.is_open(moment) is is_open


def test_outside_hours_says_when_someone_will_answer() -> None:
    saturday = datetime(2026, 11, 28, 18, 0, tzinfo=UTC)
    notice = HOURS.notice(saturday)
    assert notice is not None
    assert "de lunes a viernes de 09:00 a 18:00" in notice
    assert "lunes 30/11 a las 09:00" in notice


def test_friday_evening_points_to_monday_and_thursday_morning_to_the_same_day() -> None:
    friday_night = datetime(2026, 11, 28, 2, 0, tzinfo=UTC)  # Friday 20:00 local
    assert "lunes 30/11" in (HOURS.notice(friday_night) or "")
    thursday_early = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)  # Thursday 06:00 local
    assert "jueves 26/11 a las 09:00" in (HOURS.notice(thursday_early) or "")


def test_within_hours_there_is_no_notice() -> None:
    assert HOURS.notice(datetime(2026, 11, 26, 17, 0, tzinfo=UTC)) is None
    message = handoff_message("requested", datetime(2026, 11, 26, 17, 0, tzinfo=UTC), HOURS)
    assert "fuera de ese horario" not in message


@pytest.mark.parametrize(
    ("intent", "text", "reason"),
    [
        ("request_human", "quiero hablar con alguien", "requested"),
        ("billing_issue", "Me cobraron DOS VECES", "double_charge"),
        ("billing_issue", "aparece un cargo duplicado", "double_charge"),
        ("billing_issue", "quiero mi devolución", "refund"),
        ("billing_issue", "quiero dar de baja el servicio", "cancel_contract"),
        ("billing_issue", "el monto está mal", "billing_dispute"),
    ],
)
def test_reasons(intent: str, text: str, reason: str) -> None:
    assert reason_for(intent, text) == reason


def test_custom_days_and_hours() -> None:
    hours = BusinessHours.parse("0,2,4", "10:00-14:00", "America/Bogota")
    assert "los lunes, miércoles, viernes de 10:00 a 14:00 (hora de Bogota)" in hours.describe()

"""All the figures of one period together, as the page's JSON and as CSV rows."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from bot.handoff.triggers import REASONS
from bot.insights import figures
from bot.insights.figures import GROUP_NAMES, Durations, Handoffs, Ratings, Satisfaction, Shares, Volume
from bot.insights.period import Period

CHANNEL_NAMES = {"webchat": "Webchat", "whatsapp": "WhatsApp"}


@dataclass(frozen=True)
class Insights:
    """Every figure of a period."""

    period: Period
    volume: Volume
    containment: Shares
    not_understood: Shares
    handoffs: Handoffs
    queue_wait: Durations
    resolution_time: Durations
    satisfaction: Satisfaction
    top_intents: list[tuple[str, int]]
    top_plans: list[tuple[str, int]]


def compute(connection: Connection, period: Period) -> Insights:
    """Every figure of `period`, read one after another on one connection (not one snapshot: a message
    stored meanwhile may count in a later figure and not in an earlier one)."""
    days = figures.conversation_days(connection, period)
    return Insights(
        period,
        figures.volume(connection, period, days),
        figures.containment(connection, period, days),
        figures.not_understood(connection, period),
        figures.handoffs(connection, period),
        figures.queue_wait(connection, period),
        figures.resolution_time(connection, period),
        figures.satisfaction(connection, period),
        figures.top_intents(connection, period),
        figures.top_plans(connection, period),
    )


def _share(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def _shares(shares: Shares) -> dict[str, Any]:
    return {
        "total": shares.total,
        "part": shares.part,
        "share": _share(shares.share),
        "days": [
            {"day": d.day, "total": d.total, "part": d.part, "share": _share(d.share)} for d in shares.days
        ],
    }


def _durations(durations: Durations) -> dict[str, Any]:
    return {"count": durations.count, "p50_seconds": durations.p50, "p90_seconds": durations.p90}


def _ratings(ratings: Ratings) -> dict[str, Any]:
    return {
        "count": ratings.count,
        "average": ratings.average,
        "distribution": {str(score): n for score, n in ratings.distribution.items()},
    }


def _satisfaction(satisfaction: Satisfaction) -> dict[str, Any]:
    return {
        "overall": _ratings(satisfaction.overall),
        "agents": [
            {"agent_id": a.agent_id, "name": a.name, **_ratings(a.ratings)} for a in satisfaction.agents
        ],
    }


def as_json(insights: Insights) -> dict[str, Any]:
    """The JSON of `/api/insights` (shares are fractions 0-1, durations seconds, days UTC)."""
    period = insights.period
    handoffs = insights.handoffs
    return {
        "period": {
            "from": period.first.isoformat(),
            "to": period.last.isoformat(),
            "channel": period.channel or "all",
        },
        "volume": {
            "conversations": insights.volume.conversations,
            "user_messages": insights.volume.user_messages,
            "signed_in": insights.volume.signed_in,
            "anonymous": insights.volume.anonymous,
        },
        "containment": _shares(insights.containment),
        "not_understood": _shares(insights.not_understood),
        "handoffs": {
            "total": handoffs.total,
            "groups": [{"key": k, "name": GROUP_NAMES[k], "count": n} for k, n in handoffs.groups.items()],
            "reasons": [
                {"key": k, "name": REASONS.get(k, k), "count": n} for k, n in handoffs.reasons.items()
            ],
            "channels": [
                {"key": k, "name": CHANNEL_NAMES.get(k, k), "count": n}
                for k, n in sorted(handoffs.channels.items())
            ],
        },
        "queue_wait": _durations(insights.queue_wait),
        "resolution_time": _durations(insights.resolution_time),
        "satisfaction": _satisfaction(insights.satisfaction),
        "top_intents": [{"name": name, "count": n} for name, n in insights.top_intents],
        "top_plans": [{"name": name, "count": n} for name, n in insights.top_plans],
        "rows": [
            {"figure": figure, "item": item, "value": value, "shown": shown}
            for figure, item, value, shown in table_rows(insights)
        ],
    }


def _seconds_text(value: float | None) -> str:
    if value is None:
        return "–"
    minutes, seconds = divmod(int(value + 0.5), 60)  # half up, as the page's script rounds
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min {seconds} s" if minutes else f"{seconds} s"


def _shown(value: object, kind: str) -> str:
    """A value as the page's table shows it (percentages and durations in words; decimals with a comma)."""
    if value is None:
        return "–"
    if kind == "share" and isinstance(value, float):
        return f"{value * 100:.1f} %".replace(".", ",")
    if kind == "seconds" and isinstance(value, float):
        return _seconds_text(value)
    if isinstance(value, float):
        return f"{value:.2f}".replace(".", ",")
    return str(value)


def table_rows(insights: Insights) -> list[tuple[str, str, str, str]]:
    """The figures as (figure, item, value, shown) rows, one value each (Spanish names, as on the page):
    `value` as the CSV has it (shares 0-1, seconds), `shown` as the page's table reads."""
    rows: list[tuple[str, str, str, str]] = []

    def add(figure: str, item: str, value: object, kind: str = "") -> None:
        rows.append((figure, item, "" if value is None else str(value), _shown(value, kind)))

    period = insights.period
    add("Periodo", "Desde", period.first.isoformat())
    add("Periodo", "Hasta", period.last.isoformat())
    add("Periodo", "Canal", CHANNEL_NAMES.get(period.channel or "", "Todos"))
    volume = insights.volume
    add("Volumen", "Conversaciones", volume.conversations)
    add("Volumen", "Mensajes de usuarios", volume.user_messages)
    add("Volumen", "Conversaciones con sesión iniciada", volume.signed_in)
    add("Volumen", "Conversaciones anónimas", volume.anonymous)
    for figure, shares, part in (
        ("Contención", insights.containment, "contenidas"),
        ("No entendidos", insights.not_understood, "no entendidos"),
    ):
        add(figure, "Total", shares.total)
        add(figure, part.capitalize(), shares.part)
        add(figure, "Proporción", _share(shares.share), "share")
        for day in shares.days:
            add(f"{figure} por día", day.day, _share(day.share), "share")
    add("Derivaciones", "Total", insights.handoffs.total)
    for key, count in insights.handoffs.groups.items():
        add("Derivaciones por motivo", GROUP_NAMES[key], count)
    for key, count in insights.handoffs.reasons.items():
        add("Derivaciones por motivo detallado", REASONS.get(key, key), count)
    for key, count in sorted(insights.handoffs.channels.items()):
        add("Derivaciones por canal", CHANNEL_NAMES.get(key, key), count)
    for figure, durations in (
        ("Espera en cola (s)", insights.queue_wait),
        ("Tiempo de resolución (s)", insights.resolution_time),
    ):
        add(figure, "Medidas", durations.count)
        add(figure, "p50", durations.p50, "seconds")
        add(figure, "p90", durations.p90, "seconds")
    overall = insights.satisfaction.overall
    add("CSAT", "Respuestas", overall.count)
    add("CSAT", "Promedio", overall.average)
    for score, n in overall.distribution.items():
        add("CSAT", f"Calificación {score}", n)
    for agent in insights.satisfaction.agents:
        add("CSAT por agente", f"{agent.name} · respuestas", agent.ratings.count)
        add("CSAT por agente", f"{agent.name} · promedio", agent.ratings.average)
    for name, n in insights.top_intents:
        add("Intenciones más frecuentes", name, n)
    for name, n in insights.top_plans:
        add("Planes más consultados", name, n)
    return rows


def as_csv(insights: Insights) -> str:
    """The figures as CSV (header `figura,elemento,valor`)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(("figura", "elemento", "valor"))
    writer.writerows(row[:3] for row in table_rows(insights))
    return out.getvalue()

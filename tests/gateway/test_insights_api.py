"""The insights API through the real gateway: supervisors only, the figures of the asked period and
channel as JSON and as CSV, how many messages wait for review, and refusals in Spanish."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert

from bot.gateway import tokens
from bot.gateway.insights_reader import InsightsReader
from bot.gateway.supervision import NOT_SUPERVISOR
from bot.insights.period import last_days
from bot.store.db import make_engine, make_sessionmaker
from bot.store.models import Handoff, InboundMessage, ReviewItem
from tests.gateway.conftest import Gateway, token_settings

ELENA = (8, 4, "supervisor", "Elena Supervisión")
CARLA = (7, 4, "agent", "Carla Soporte")
ANA = (1, 1, "admin", "Ana Torres")


def bearer(user_id: int, account_id: int, profile: str, name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens.mint(user_id, account_id, profile, name, token_settings(), 5)}"}


def add_traffic(database_url: str) -> None:
    """Today: two webchat turns of one visitor (one not understood, handed off and rated 4 by Carla's
    customer), one WhatsApp turn; one message waiting for review, one already reviewed."""
    now = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=30)
    engine = make_engine(database_url)
    with engine.begin() as connection:
        for n, (channel, sender, understood) in enumerate(
            (("webchat", "web:a:x", True), ("webchat", "web:a:x", False), ("whatsapp", "whatsapp:+1", True))
        ):
            connection.execute(
                insert(InboundMessage.__table__).values(
                    channel=channel,
                    external_id=f"api-{n}",
                    sender_id=sender,
                    text="…",
                    meta={},
                    status="answered",
                    attempts=1,
                    received_at=now + timedelta(seconds=n),
                    intent="ask_price" if understood else "nlu_fallback",
                    understood=understood,
                    plans=["expert"] if understood else None,
                )
            )
        connection.execute(
            insert(Handoff.__table__).values(
                sender_id="web:a:x",
                channel="webchat",
                reason="not_understood",
                status="resolved",
                agent_id=7,
                created_at=now + timedelta(seconds=2),
                assigned_at=now + timedelta(seconds=62),
                resolved_at=now + timedelta(seconds=302),
                csat_rating=4,
            )
        )
        for n, status in enumerate(("waiting", "labelled")):
            connection.execute(
                insert(ReviewItem.__table__).values(
                    inbound_id=1000 + n,
                    channel="webchat",
                    sender_id="web:a:x",
                    text="…",
                    normalized="…",
                    reason="fallback",
                    context=[],
                    received_at=now,
                    status=status,
                )
            )
    engine.dispose()


async def test_a_supervisor_reads_the_figures_of_a_period_and_channel(
    gateway: Gateway, database_url: str
) -> None:
    add_traffic(database_url)
    response = await gateway.client.get("/api/insights?period=7d&channel=all", headers=bearer(*ELENA))
    assert response.status == 200, await response.text()
    assert response.headers["Cache-Control"] == "private, no-store"
    body = await response.json()
    today = datetime.now(UTC).date()
    assert body["period"] == {
        "from": (today - timedelta(days=6)).isoformat(),
        "to": today.isoformat(),
        "channel": "all",
    }
    assert body["volume"] == {"conversations": 2, "user_messages": 3, "signed_in": 0, "anonymous": 2}
    assert (body["containment"]["total"], body["containment"]["part"]) == (2, 1)
    assert body["not_understood"]["share"] == round(1 / 3, 4)
    assert body["queue_wait"] == {"count": 1, "p50_seconds": 60.0, "p90_seconds": 60.0}
    assert body["resolution_time"]["p50_seconds"] == 300.0
    assert body["satisfaction"]["agents"][0]["name"] == "Carla Soporte"
    assert body["top_plans"] == [{"name": "expert", "count": 2}]
    assert body["review"] == {"waiting": 1, "url": "/insights/review"}
    assert {"figure": "Volumen", "item": "Conversaciones", "value": "2", "shown": "2"} in body["rows"]

    whatsapp = await (
        await gateway.client.get("/api/insights?period=30d&channel=whatsapp", headers=bearer(*ELENA))
    ).json()
    assert whatsapp["volume"]["conversations"] == 1
    assert whatsapp["handoffs"]["total"] == 0


async def test_the_csv_has_the_same_figures(gateway: Gateway, database_url: str) -> None:
    add_traffic(database_url)
    today = datetime.now(UTC).date()
    first, last = (today - timedelta(days=1)).isoformat(), today.isoformat()  # the traffic is 30 minutes old
    response = await gateway.client.get(
        f"/api/insights.csv?period=custom&from={first}&to={last}&channel=webchat", headers=bearer(*ELENA)
    )
    assert response.status == 200
    assert response.content_type == "text/csv"
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="indicadores_{first}_{last}_webchat.csv"'
    )
    rows = list(csv.reader(io.StringIO(await response.text())))
    assert rows[0] == ["figura", "elemento", "valor"]
    assert ["Volumen", "Conversaciones", "1"] in rows
    assert ["Periodo", "Canal", "Webchat"] in rows
    assert ["Derivaciones por canal", "Webchat", "1"] in rows
    assert ["CSAT", "Promedio", "4.0"] in rows


async def test_agents_admins_and_strangers_are_refused(gateway: Gateway) -> None:
    for path in ("/api/insights", "/api/insights.csv"):
        for who in (CARLA, ANA):
            response = await gateway.client.get(path, headers=bearer(*who))
            assert response.status == 403
            assert await response.json() == {"error": "not_a_supervisor", "message": NOT_SUPERVISOR}
        assert (await gateway.client.get(path)).status == 401


async def test_a_bad_period_is_explained(gateway: Gateway) -> None:
    response = await gateway.client.get(
        "/api/insights?period=custom&from=2026-02-10&to=2026-02-01", headers=bearer(*ELENA)
    )
    assert response.status == 400
    assert await response.json() == {
        "error": "bad_period",
        "message": "La fecha final es anterior a la inicial.",
    }
    response = await gateway.client.get("/api/insights?channel=sms", headers=bearer(*ELENA))
    assert (await response.json())["error"] == "bad_period"


async def test_the_page_is_served_under_the_strict_policy(gateway: Gateway) -> None:
    response = await gateway.client.get("/insights")
    assert response.status == 200
    page = await response.text()
    assert '<script src="/static/vendor/chartjs/chart.umd.min.js" defer></script>' in page
    assert "<script>" not in page and "style=" not in page
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    chart = await gateway.client.get("/static/vendor/chartjs/chart.umd.min.js")
    assert chart.status == 200
    assert (await chart.text()).startswith("/*!\n * Chart.js v4.6.2")


async def test_a_periods_figures_are_kept_for_a_minute(database_url: str) -> None:
    """A page load and its CSV read the store once; after `fresh_seconds` new traffic shows."""
    engine = make_engine(database_url)
    sessions = make_sessionmaker(engine)
    period = last_days(7, datetime.now(UTC).date())
    kept, fresh = InsightsReader(sessions), InsightsReader(sessions, fresh_seconds=0.0)
    first = await kept.figures(period)
    assert (await fresh.figures(period)).volume.user_messages == first.volume.user_messages == 0
    add_traffic(database_url)
    assert await kept.figures(period) is first
    assert (await fresh.figures(period)).volume.user_messages == 3
    assert (await kept.figures(last_days(30, datetime.now(UTC).date()))).volume.user_messages == 3
    engine.dispose()

"""The insights page for supervisors: its page, its JSON API and the same figures as CSV."""

from __future__ import annotations

from datetime import UTC, date, datetime

from aiohttp import web

from bot.gateway.channels.webchat import STATIC
from bot.gateway.errors import ApiError
from bot.gateway.keys import INSIGHTS
from bot.gateway.supervision import require_supervisor
from bot.insights.period import Period, PeriodError, period_from
from bot.insights.report import as_csv, as_json

REVIEW_PATH = "/insights/review"
NO_STORE = {"Cache-Control": "private, no-store"}


def _today() -> date:
    return datetime.now(UTC).date()


def _period(request: web.Request) -> Period:
    try:
        return period_from(request.query, _today())
    except PeriodError as failure:
        raise ApiError(400, "bad_period", failure.message) from failure


async def page(request: web.Request) -> web.FileResponse:
    """GET /insights: the page (it signs in and asks the API; the figures need a supervisor's token)."""
    return web.FileResponse(STATIC / "insights.html")


async def figures(request: web.Request) -> web.Response:
    """GET /api/insights?period=7d|30d|custom&from=&to=&channel=all|webchat|whatsapp: every figure, and how
    many messages wait for review (with the review page's address)."""
    await require_supervisor(request)
    period = _period(request)
    reader = request.app[INSIGHTS]
    body = as_json(await reader.figures(period))
    body["review"] = {"waiting": await reader.waiting_for_review(), "url": REVIEW_PATH}
    return web.json_response(body, headers=NO_STORE)


async def figures_csv(request: web.Request) -> web.Response:
    """GET /api/insights.csv (same query): the figures as CSV, one value a row, to download."""
    await require_supervisor(request)
    period = _period(request)
    insights = await request.app[INSIGHTS].figures(period)
    channel = period.channel or "todos"
    name = f"indicadores_{period.first.isoformat()}_{period.last.isoformat()}_{channel}.csv"
    return web.Response(
        text=as_csv(insights),
        content_type="text/csv",
        charset="utf-8",
        headers={**NO_STORE, "Content-Disposition": f'attachment; filename="{name}"'},
    )


def add_routes(app: web.Application) -> None:
    """Routes of the insights page."""
    app.router.add_get("/insights", page)
    app.router.add_get("/api/insights", figures)
    app.router.add_get("/api/insights.csv", figures_csv)

"""The operator metrics' own HTTP server: `GET /metrics` in Prometheus's text format on METRICS_HOST and
METRICS_PORT (loopback by default), on the gateway's event loop but never on the public port."""

from __future__ import annotations

import logging

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy.orm import Session, sessionmaker

from bot.gateway.metrics import GatewayMetrics, Snapshot, StoreFigures, read_store
from bot.store.db import in_store

log = logging.getLogger("bot.gateway.metrics")


class MetricsServer:
    """Serves one gateway's metrics; the store's figures are read when Prometheus scrapes."""

    def __init__(
        self, metrics: GatewayMetrics, sessions: sessionmaker[Session], host: str, port: int
    ) -> None:
        self._metrics = metrics
        self._sessions = sessions
        self._host = host
        self._port = port
        self._figures = StoreFigures()
        metrics.watch(self._figures)
        app = web.Application()
        app.router.add_get("/metrics", self._scrape)
        # Scrapes come every few seconds: they stay out of the access log.
        self._runner = web.AppRunner(app, access_log=None)

    @property
    def addresses(self) -> list[tuple[str, int]]:
        """Where it listens (empty until started, or when the port could not be had)."""
        return [(str(address[0]), int(address[1])) for address in self._runner.addresses]

    async def start(self) -> bool:
        """Listen; False (logged) when the port cannot be had: the gateway serves customers without its
        metrics rather than not at all."""
        await self._runner.setup()
        try:
            await web.TCPSite(self._runner, self._host, self._port).start()
        except OSError as error:
            log.error("operator metrics off: cannot listen on %s:%s (%s)", self._host, self._port, error)
            await self._runner.cleanup()
            return False
        log.info("operator metrics at http://%s:%s/metrics", self._host, self._port)
        return True

    async def stop(self) -> None:
        """Stop listening."""
        await self._runner.cleanup()

    async def _scrape(self, request: web.Request) -> web.Response:
        try:
            snapshot: Snapshot | None = await in_store(self._sessions, self._read)
        except Exception as error:  # a store outage must not cost the process metrics too
            log.warning("metrics: the store's figures could not be read (%s)", type(error).__name__)
            self._metrics.store_errors.inc()
            snapshot = None
        self._figures.update(snapshot)
        return web.Response(
            body=generate_latest(self._metrics.registry), headers={"Content-Type": CONTENT_TYPE_LATEST}
        )

    def _read(self) -> Snapshot:
        with self._sessions() as session:
            return read_store(session)

"""Run the gateway: `python -m bot.gateway`."""

from __future__ import annotations

import logging

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

from bot import logs
from bot.gateway.app import create_app
from bot.settings import get_settings


class PathOnlyAccessLogger(AbstractAccessLogger):
    """Access log without query strings (the event streams carry a token there); the path is written
    escaped by the log formatter, so `%0D%0A` in a request cannot forge a line."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        """One line per request: method, path, status, seconds."""
        self.logger.info("%s %s %s %.3fs", request.method, request.path, response.status, time)


def main() -> None:
    """Serve until SIGINT/SIGTERM."""
    settings = get_settings()
    logs.configure(settings.log_format)
    if settings.dev_mode:
        logging.getLogger("bot.gateway").warning("development mode is ON: anyone can sign in as a demo user")
    web.run_app(
        create_app(settings),
        host=settings.gateway_host,
        port=settings.gateway_port,
        print=None,
        access_log_class=PathOnlyAccessLogger,
    )


if __name__ == "__main__":
    main()

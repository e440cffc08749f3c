"""Run the gateway: `python -m bot.gateway`."""

from __future__ import annotations

import logging

from aiohttp import web

from bot.gateway.app import create_app
from bot.settings import get_settings


def main() -> None:
    """Serve until SIGINT/SIGTERM."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    settings = get_settings()
    if settings.dev_mode:
        logging.getLogger("bot.gateway").warning("development mode is ON: anyone can sign in as a demo user")
    web.run_app(create_app(settings), host=settings.gateway_host, port=settings.gateway_port, print=None)


if __name__ == "__main__":
    main()

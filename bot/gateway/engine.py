"""The gateway's client of the engine's REST channel (loopback only)."""

from __future__ import annotations

from typing import Any

import aiohttp


class EngineUnavailable(Exception):
    """The engine did not answer in time or answered with an error."""


class EngineClient:
    """Sends a user message with its verified metadata and returns the bot's messages."""

    def __init__(self, session: aiohttp.ClientSession, base_url: str, timeout: float) -> None:
        self._session = session
        self._url = f"{base_url.rstrip('/')}/webhooks/rest/webhook"
        self._timeout = aiohttp.ClientTimeout(total=timeout)

    async def send(self, sender: str, text: str, metadata: dict[str, Any]) -> list[dict[str, Any]]:
        """One turn of the conversation."""
        payload = {"sender": sender, "message": text, "metadata": metadata}
        try:
            async with self._session.post(self._url, json=payload, timeout=self._timeout) as response:
                if response.status != 200:
                    raise EngineUnavailable(f"engine answered {response.status}")
                body = await response.json(content_type=None)
        except (TimeoutError, aiohttp.ClientError, ValueError) as error:
            raise EngineUnavailable(str(error) or type(error).__name__) from error
        if not isinstance(body, list):
            raise EngineUnavailable("engine answered something that is not a list of messages")
        return [m for m in body if isinstance(m, dict)]

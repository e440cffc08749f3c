"""The gateway's client of the engine's REST channel (loopback only)."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import quote

import aiohttp

from bot.gateway.metrics import GatewayMetrics

# Seconds after the action server was last seen down during which an empty answer still counts as its
# failure (the message is kept and retried) rather than as the assistant having nothing to say.
ACTIONS_SETTLE_SECONDS = 10.0


class EngineUnavailable(Exception):
    """The engine did not answer in time or answered with an error."""


class EngineClient:
    """Sends a user message with its verified metadata and returns the bot's messages."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str,
        timeout: float,
        token: str = "",
        actions_url: str | None = None,
        metrics: GatewayMetrics | None = None,
    ) -> None:
        self._metrics = metrics or GatewayMetrics()
        self._session = session
        self._base = base_url.rstrip("/")
        self._url = f"{self._base}/webhooks/rest/webhook"
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._token = token
        self._actions_health = f"{actions_url.rstrip('/')}/health" if actions_url else None
        self._actions_down_at = float("-inf")

    async def actions_available(self) -> bool:
        """Whether the action server answers its health check and was not seen down in the last seconds
        (an empty answer just after it came back may come from a call that failed while it was down).
        True when there is none to check."""
        if self._actions_health is None:
            return True
        try:
            async with self._session.get(
                self._actions_health, timeout=aiohttp.ClientTimeout(total=2)
            ) as response:
                up = response.status == 200
        except (aiohttp.ClientError, TimeoutError):
            up = False
        now = time.monotonic()
        if not up:
            self._actions_down_at = now
            self._metrics.action_server_errors.inc()
        return up and now - self._actions_down_at > ACTIONS_SETTLE_SECONDS

    async def available(self) -> bool:
        """Whether the engine answers (its root URL) and so does the action server, if there is one to
        check: a cheap probe while a backlog waits for them to come back."""
        urls = [f"{self._base}/", *([self._actions_health] if self._actions_health else [])]
        for url in urls:
            try:
                async with self._session.get(url, timeout=aiohttp.ClientTimeout(total=2)) as response:
                    if response.status != 200:
                        return False
            except (aiohttp.ClientError, TimeoutError):
                return False
        return True

    async def add_event(self, sender: str, event: str) -> None:
        """Append a tracker event through the engine's HTTP API (`pause` / `resume` for hand-offs)."""
        url = f"{self._base}/conversations/{quote(sender, safe=':+')}/tracker/events"
        try:
            async with self._session.post(
                url, params={"token": self._token}, json={"event": event}, timeout=self._timeout
            ) as response:
                if response.status != 200:
                    raise EngineUnavailable(f"engine answered {response.status} to {event}")
        except (aiohttp.ClientError, TimeoutError) as error:
            self._metrics.engine_errors.inc()
            raise EngineUnavailable(str(error) or type(error).__name__) from error
        except EngineUnavailable:
            self._metrics.engine_errors.inc()
            raise

    async def latest_intent(self, sender: str) -> str | None:
        """The intent of the sender's latest message as the engine's tracker has it (None when it cannot
        tell): for turns the engine answers with its own responses, no action reporting them."""
        url = f"{self._base}/conversations/{quote(sender, safe=':+')}/tracker"
        params = {"token": self._token, "include_events": "NONE"}
        try:
            async with self._session.get(url, params=params, timeout=self._timeout) as response:
                if response.status != 200:
                    return None
                body = await response.json(content_type=None)
        except (TimeoutError, aiohttp.ClientError, ValueError):
            return None
        latest = body.get("latest_message") if isinstance(body, dict) else None
        intent = (latest or {}).get("intent") if isinstance(latest, dict) else None
        name = intent.get("name") if isinstance(intent, dict) else None
        return str(name)[:64] if name else None

    async def send(self, sender: str, text: str, metadata: dict[str, Any]) -> list[dict[str, Any]]:
        """One turn of the conversation."""
        payload = {"sender": sender, "message": text, "metadata": metadata}
        try:
            async with self._session.post(self._url, json=payload, timeout=self._timeout) as response:
                if response.status != 200:
                    raise EngineUnavailable(f"engine answered {response.status}")
                body = await response.json(content_type=None)
            if not isinstance(body, list):
                raise EngineUnavailable("engine answered something that is not a list of messages")
        except (TimeoutError, aiohttp.ClientError, ValueError) as error:
            self._metrics.engine_errors.inc()
            raise EngineUnavailable(str(error) or type(error).__name__) from error
        except EngineUnavailable:
            self._metrics.engine_errors.inc()
            raise
        return [m for m in body if isinstance(m, dict)]

"""Starts the real engine (trained model) and action server once for the end-to-end tests."""

from __future__ import annotations

import json
import os
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.model import model_path
from bot.serve import running
from bot.settings import PROJECT_ROOT, get_settings

Ask = Callable[..., list[dict[str, Any]]]


@pytest.fixture(scope="session")
def stack() -> Iterator[None]:
    """The engine and the action server, started from the current model and the default store."""
    # BOT_MODEL lets a developer run the suite against another model while the data is being edited.
    model = Path(os.environ.get("BOT_MODEL") or model_path())
    if not model.exists():
        pytest.fail(f"no trained model at {model}: run `make model` first")
    with running(log_dir=PROJECT_ROOT / "var" / "log" / "e2e", model=model):
        yield


@pytest.fixture
def ask(stack: None) -> Ask:
    """Send a message through the REST channel; returns the bot's messages."""
    url = f"{get_settings().engine_url}/webhooks/rest/webhook"

    def _ask(
        message: str, sender: str | None = None, metadata: dict[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        payload: dict[str, Any] = {"sender": sender or f"e2e-{uuid.uuid4().hex[:12]}", "message": message}
        if metadata is not None:
            payload["metadata"] = metadata
        request = urllib.request.Request(
            url, data=json.dumps(payload).encode(), headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return list(json.loads(response.read()))

    return _ask


def text_of(messages: list[dict[str, Any]]) -> str:
    """All the text the bot sent, joined."""
    return "\n".join(str(m.get("text") or "") for m in messages)

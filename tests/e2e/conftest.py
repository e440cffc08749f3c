"""Starts the whole stack once for the end-to-end tests: action server, engine (trained model) and gateway.

The gateway runs as in development, with WhatsApp enabled against a fake Twilio REST API started
first (testkit/fake_twilio.py), and a fresh store seeded for this session, so a run neither
depends on nor changes the developer's stores: the store and the engine's tracker store are new files.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser

from bot.model import model_path
from bot.serve import running
from bot.settings import PROJECT_ROOT, Settings, get_settings
from testkit.fake_twilio import FakeTwilio
from tests.e2e.chromium import launched

Ask = Callable[..., list[dict[str, Any]]]

PUBLIC_URL = "https://bot.e2e.example"
WHATSAPP_FROM = "whatsapp:+14155238886"
REOPEN_TEMPLATE_SID = "HX" + "7" * 32
REOPEN_TEMPLATE = (
    "Hola, te escribe {{1}}: tenemos una respuesta a tu consulta. Responde este mensaje para verla."
)


@dataclass(frozen=True)
class E2EStack:
    """The running stack: the settings its processes were started with, the fake Twilio, and the origin
    of the other site allowed to embed the chat (tests serve a host page there)."""

    settings: Settings
    twilio: FakeTwilio
    embed_origin: str

    @property
    def gateway_url(self) -> str:
        """Where the tests reach the gateway (on loopback)."""
        return f"http://127.0.0.1:{self.settings.gateway_port}"


def free_port() -> int:
    """A TCP port nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _seed(root: Path) -> None:
    """Migrate and seed the store named by DATABASE_URL (catalogue and demo accounts dated today)."""
    done = subprocess.run(
        [sys.executable, "-m", "bot.cli", "seed"], cwd=root, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        pytest.fail(f"seeding the e2e store failed:\n{done.stdout}{done.stderr}")


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[E2EStack]:
    """The action server, the engine and the gateway, started from the current model."""
    # BOT_MODEL lets a developer run the suite against another model while the data is being edited.
    model = Path(os.environ.get("BOT_MODEL") or model_path())
    if not model.exists():
        pytest.fail(f"no trained model at {model}: run `make model` first")
    account_sid = "AC" + secrets.token_hex(16)
    auth_token = secrets.token_hex(16)
    store = tmp_path_factory.mktemp("store") / "bot.db"
    fake = FakeTwilio(account_sid, auth_token, sender=WHATSAPP_FROM)
    fake.templates[REOPEN_TEMPLATE_SID] = REOPEN_TEMPLATE
    # Another site (localhost is not 127.0.0.1's site) that may embed the chat: the widget's tests serve a
    # host page there.
    embed_origin = f"http://localhost:{free_port()}"
    # The child processes inherit os.environ: everything is set before the stack starts, and restored after.
    with fake.running(), pytest.MonkeyPatch.context() as env:
        for name, value in {
            "DEV_MODE": "true",
            "PUBLIC_URL": PUBLIC_URL,
            "GATEWAY_HOST": "127.0.0.1",
            "DATABASE_URL": f"sqlite:///{store}",
            # A fresh tracker store too: no conversation (or hand-off pause) leaks from an earlier run.
            "TRACKER_STORE_URL": f"sqlite:///{store.with_name('tracker.db')}",
            "TWILIO_ACCOUNT_SID": account_sid,
            "TWILIO_AUTH_TOKEN": auth_token,
            "TWILIO_WHATSAPP_FROM": WHATSAPP_FROM,
            "TWILIO_API_BASE": fake.base_url,
            "EMBED_ORIGINS": embed_origin,
            # The approved template that reopens a closed 24-hour window (the fake knows it).
            "WHATSAPP_REOPEN_TEMPLATE_SID": REOPEN_TEMPLATE_SID,
            "WHATSAPP_REOPEN_TEMPLATE_VARIABLES": '{"1": "Zenvia"}',
            # Every test talks from 127.0.0.1: the per-client limit would count the whole suite as one
            # client (the limits have their own tests in tests/gateway).
            "RATE_LIMIT_PER_SECOND": "1000",
            "RATE_LIMIT_BURST": "1000",
        }.items():
            env.setenv(name, value)
        get_settings.cache_clear()
        try:
            settings = Settings()
            assert settings.twilio_enabled and settings.dev_mode
            _seed(PROJECT_ROOT)
            with running(settings=settings, log_dir=PROJECT_ROOT / "var" / "log" / "e2e", model=model):
                stack = E2EStack(settings, fake, embed_origin)
                # Customers' messages and Twilio's status callbacks, posted by the fake as Twilio would.
                fake.webhooks_to(stack.gateway_url, PUBLIC_URL)
                fake.deliver_callbacks(stack.gateway_url)
                yield stack
        finally:
            get_settings.cache_clear()


@pytest.fixture
def gateway_url(stack: E2EStack) -> str:
    """The gateway's base URL, e.g. http://127.0.0.1:8000."""
    return stack.gateway_url


@pytest.fixture
def fake_twilio(stack: E2EStack) -> FakeTwilio:
    """The fake Twilio REST API the gateway sends WhatsApp messages to."""
    return stack.twilio


@pytest.fixture
def ask(stack: E2EStack) -> Ask:
    """Send a message through the REST channel; returns the bot's messages."""
    url = f"{stack.settings.engine_url}/webhooks/rest/webhook"

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


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Headless chromium (tests/e2e/chromium.py), one per test module."""
    with launched() as chromium:
        yield chromium

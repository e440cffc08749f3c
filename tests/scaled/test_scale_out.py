"""The scale-out topology against this machine's PostgreSQL and Redis.

Store and tracker store in a fresh PostgreSQL database, Redis lock store, two engine workers and two
gateway replicas that share state only through them. Skipped, saying why, when either server is absent.
"""

from __future__ import annotations

import http.cookiejar
import json
import os
import secrets
import socket
import subprocess
import sys
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from bot.model import model_path
from bot.serve import running
from bot.settings import PROJECT_ROOT, Settings, get_settings
from testkit.fake_twilio import FakeTwilio
from testkit.signing import twilio_signature

pytestmark = pytest.mark.e2e

PG_ADMIN = os.environ.get(
    "BOT_TEST_POSTGRES_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
REDIS = os.environ.get("BOT_TEST_REDIS_URL", "redis://127.0.0.1:6379/1")
PUBLIC_URL = "https://bot.scaled.example"
PORTS = {"engine": 6105, "actions": 6155, "gateway": 9100}


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


@dataclass(frozen=True)
class Scaled:
    """The running scaled stack."""

    settings: Settings
    twilio: FakeTwilio
    database: str

    def gateway(self, replica: int) -> str:
        """Base URL of gateway replica 0 or 1."""
        return f"http://127.0.0.1:{self.settings.gateway_port + replica}"


@pytest.fixture(scope="module")
def scaled() -> Iterator[Scaled]:
    """A fresh PostgreSQL database, then the whole scaled stack on its own ports."""
    if not _reachable("127.0.0.1", 5432) or not _reachable("127.0.0.1", 6379):
        pytest.skip("PostgreSQL (127.0.0.1:5432) or Redis (127.0.0.1:6379) is not running")
    if not model_path().exists():
        pytest.fail("no trained model for the current data: run `make model` first")
    database = f"zcc_scaled_{secrets.token_hex(4)}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{database}"'))
    base = urllib.parse.urlsplit(PG_ADMIN)
    fake = FakeTwilio("AC" + secrets.token_hex(16), secrets.token_hex(16))
    try:
        with fake.running(), pytest.MonkeyPatch.context() as env:
            for name, value in {
                "DATABASE_URL": f"postgresql+psycopg://{base.netloc}/{database}",
                "TRACKER_STORE_URL": f"postgresql://{base.netloc}/{database}",
                "LOCK_STORE_URL": REDIS,
                "ENGINE_WORKERS": "2",
                "GATEWAY_REPLICAS": "2",
                "ENGINE_URL": f"http://127.0.0.1:{PORTS['engine']}",
                "ACTION_SERVER_PORT": str(PORTS["actions"]),
                "GATEWAY_PORT": str(PORTS["gateway"]),
                "GATEWAY_HOST": "127.0.0.1",
                "PUBLIC_URL": PUBLIC_URL,
                "TWILIO_ACCOUNT_SID": fake.account_sid,
                "TWILIO_AUTH_TOKEN": fake.auth_token,
                "TWILIO_WHATSAPP_FROM": "whatsapp:+14155238886",
                "TWILIO_API_BASE": fake.base_url,
                "RATE_LIMIT_PER_SECOND": "100",
                "RATE_LIMIT_BURST": "100",
            }.items():
                env.setenv(name, value)
            get_settings.cache_clear()
            settings = Settings()
            subprocess.run(
                [sys.executable, "-m", "bot.cli", "seed"], cwd=PROJECT_ROOT, check=True, capture_output=True
            )
            with running(settings=settings, log_dir=PROJECT_ROOT / "var" / "log" / "scaled"):
                yield Scaled(settings, fake, database)
    finally:
        get_settings.cache_clear()
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        admin.dispose()


def _chat(opener: urllib.request.OpenerDirector, url: str, message: str) -> str:
    request = urllib.request.Request(
        f"{url}/api/chat",
        data=json.dumps({"message": message}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with opener.open(request, timeout=30) as response:
        return "\n".join(m.get("text") or "" for m in json.loads(response.read()))


def test_a_conversation_keeps_its_context_across_gateway_replicas(scaled: Scaled) -> None:
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    assert "10 usuarios" in _chat(opener, scaled.gateway(0), "cuantos usuarios trae el specialist")
    assert "30 usuarios" in _chat(opener, scaled.gateway(1), "y el expert?")
    assert "50 usuarios" in _chat(opener, scaled.gateway(0), "y el professional?")


def test_the_store_and_the_tracker_store_live_in_postgresql(scaled: Scaled) -> None:
    engine = create_engine(scaled.settings.database_url)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM catalogue_plans")).scalar() == 5
        assert connection.execute(text("SELECT count(*) FROM users")).scalar_one() >= 7
        assert connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
        assert connection.execute(text("SELECT count(*) FROM events")).scalar_one() > 0
    engine.dispose()


def test_concurrent_whatsapp_messages_across_replicas_are_answered_once_and_in_order(scaled: Scaled) -> None:
    phone = f"+52155{uuid.uuid4().int % 10**8:08d}"
    plans = [
        "starter",
        "specialist",
        "expert",
        "professional",
        "enterprise",
        "starter",
        "expert",
        "specialist",
    ]
    expected = [
        "1 usuario",
        "10 usuarios",
        "30 usuarios",
        "50 usuarios",
        "ilimitado",
        "1 usuario",
        "30 usuarios",
        "10 usuarios",
    ]
    auth_token = scaled.settings.twilio_auth_token or ""
    path = "/webhooks/twilio/whatsapp"

    def post(index: int) -> int:
        params = {
            "MessageSid": "SM" + uuid.uuid4().hex,
            "AccountSid": scaled.settings.twilio_account_sid or "",
            "From": f"whatsapp:{phone}",
            "To": "whatsapp:+14155238886",
            "NumMedia": "0",
            "Body": f"cuantos usuarios trae el plan {plans[index]}",
        }
        request = urllib.request.Request(
            scaled.gateway(index % 2) + path,
            data=urllib.parse.urlencode(params).encode(),
            headers={
                "X-Twilio-Signature": twilio_signature(auth_token, PUBLIC_URL + path, params),
                "Content-Type": "application/x-www-form-urlencoded",
            },
        )
        with urllib.request.urlopen(request, timeout=15) as response:
            return int(response.status)

    # Sequential posts alternate replicas and arrive faster than they are answered.
    with ThreadPoolExecutor(max_workers=1) as pool:
        assert list(pool.map(post, range(len(plans)))) == [200] * len(plans)
    replies = scaled.twilio.wait_for(f"whatsapp:{phone}", count=len(plans), timeout=60, settle=2.0)
    bodies = [m.body for m in replies]
    assert len(bodies) == len(plans), bodies  # none lost, none twice
    for body, fact, plan in zip(bodies, expected, plans, strict=True):
        assert fact in body and plan.title() in body, (plan, body)


def test_the_topology_shares_state_only_through_postgresql_and_redis(scaled: Scaled) -> None:
    settings = scaled.settings
    assert settings.database_url.startswith("postgresql")
    assert settings.tracker_store_url.startswith("postgresql")
    assert settings.lock_store_url == REDIS
    endpoints = (Path(PROJECT_ROOT) / "var" / f"endpoints-{PORTS['engine']}.yml").read_text()
    assert "type: redis" in endpoints and "dialect: postgresql" in endpoints

"""Security suite fixtures: the gateway test bed (fake engine, fake Twilio, real SQLite store) plus helpers
to count what was stored, capture every log line, forge tokens and generate card numbers.

The gateway fixtures are the ones of tests/gateway/conftest.py, re-exported here so the security tests
run against exactly the same application.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import random
import re
import sqlite3
import time
import unicodedata
from dataclasses import dataclass
from typing import Any

import jwt
import pytest

from bot.gateway import live as live_module
from tests.gateway.conftest import *  # noqa: F403  (the gateway fixtures, re-exported for this suite)
from tests.gateway.conftest import AUTH_TOKEN, JWT_SECRET, Gateway, StartGateway

# Values a response must never contain: the secrets the gateway holds.
SECRETS = (JWT_SECRET, AUTH_TOKEN, "dev-engine-token")
# Tables that only a request the gateway accepted may write to.
WRITTEN_BY_REQUESTS = ("inbound_messages", "delivery_statuses", "outbound_messages")

ANA = (1, 1, "admin", "Ana Torres")  # user id, account id, profile, name
LUIS = (2, 1, "member", "Luis Gómez")
MARIA = (3, 2, "admin", "María Ruiz")
CARLA = (7, 4, "agent", "Carla Soporte")


# --- the store ------------------------------------------------------------------------------------------
def sqlite_path(database_url: str) -> str:
    """The file of a sqlite:/// URL."""
    assert database_url.startswith("sqlite:///"), database_url
    return database_url.removeprefix("sqlite:///")


def count(database_url: str, table: str) -> int:
    """Rows in a table (a cheap read through sqlite3, fine to call for every generated example)."""
    with sqlite3.connect(sqlite_path(database_url)) as connection:
        return int(connection.execute(f'SELECT COUNT(*) FROM "{table}"').fetchone()[0])


def counts(database_url: str) -> dict[str, int]:
    """Rows in every table a request may write to."""
    with sqlite3.connect(sqlite_path(database_url)) as connection:
        return {
            table: int(connection.execute(f'SELECT COUNT(*) FROM "{table}"').fetchone()[0])
            for table in WRITTEN_BY_REQUESTS
        }


def every_text(database_url: str) -> list[str]:
    """Every non-null value of every column of every table of a SQLite file, as text (JSON included)."""
    values: list[str] = []
    with sqlite3.connect(sqlite_path(database_url)) as connection:
        tables = [r[0] for r in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for table in tables:
            for row in connection.execute(f'SELECT * FROM "{table}"'):
                values += [v.decode(errors="replace") if isinstance(v, bytes) else str(v) for v in row]
    return [v for v in values if v != "None"]


# --- logs and streams -----------------------------------------------------------------------------------
@pytest.fixture
def all_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """Every logger at DEBUG (SQL statements and their parameters included). Request it before the gateway,
    so the store's engine is created with statement logging on."""
    caplog.set_level(logging.DEBUG)
    for name in ("bot", "aiohttp", "twilio", "sqlalchemy", "sqlalchemy.engine", "asyncio"):
        caplog.set_level(logging.DEBUG, logger=name)
    return caplog


def logged(caplog: pytest.LogCaptureFixture) -> list[str]:
    """Every captured log line, with its arguments and any traceback."""
    texts = []
    for record in caplog.records:
        texts.append(record.getMessage())
        if record.exc_info:
            texts.append(logging.Formatter().formatException(record.exc_info))
    return texts


@pytest.fixture(autouse=True)
def quick_heartbeat(monkeypatch: pytest.MonkeyPatch) -> None:
    """Event streams write a heartbeat every 50 ms instead of 15 s: a stream the test closed at once
    notices the closed connection at its next write and ends, so the test server shuts down promptly."""
    monkeypatch.setattr(live_module, "HEARTBEAT_SECONDS", 0.05)


@pytest.fixture
async def dev_gateway(start_gateway: StartGateway) -> Gateway:
    """The gateway in development mode (the demo sign-in routes exist)."""
    return await start_gateway(dev_mode=True)


# --- tokens ---------------------------------------------------------------------------------------------
def claims_of(who: tuple[int, int, str, str], minutes: int = 10, **changes: Any) -> dict[str, Any]:
    """Valid claims of a demo user; a change to None removes the claim."""
    user_id, account_id, profile, name = who
    now = int(time.time())
    values: dict[str, Any] = {
        "sub": str(user_id),
        "account_id": account_id,
        "profile": profile,
        "name": name,
        "iat": now,
        "exp": now + minutes * 60,
    }
    values.update(changes)
    return {k: v for k, v in values.items() if v is not None}


def token_for(
    who: tuple[int, int, str, str], secret: str = JWT_SECRET, algorithm: str = "HS256", **changes: Any
) -> str:
    """A token for a demo user (signed with the gateway's secret unless told otherwise)."""
    return jwt.encode(claims_of(who, **changes), secret, algorithm=algorithm)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned_token(claims: dict[str, Any], alg: str = "none") -> str:
    """A token with `alg` in its header and no signature (the classic alg=none forgery)."""
    header = b64url(json.dumps({"alg": alg, "typ": "JWT"}).encode())
    return f"{header}.{b64url(json.dumps(claims).encode())}."


def tampered(token: str, **changes: Any) -> str:
    """The token with its claims changed and the original signature kept."""
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims.update(changes)
    return f"{header}.{b64url(json.dumps(claims).encode())}.{signature}"


# --- card numbers ---------------------------------------------------------------------------------------
def luhn_complete(body: str) -> str:
    """`body` followed by its Luhn check digit."""
    total = 0
    for i, char in enumerate(reversed(body)):  # the check digit will be rightmost: double from here
        digit = int(char)
        total += sum(divmod(digit * 2, 10)) if i % 2 == 0 else digit
    return body + str((10 - total % 10) % 10)


def luhn_valid(digits: str) -> bool:
    total = 0
    for i, char in enumerate(reversed(digits)):
        digit = int(char)
        total += sum(divmod(digit * 2, 10)) if i % 2 == 1 else digit
    return total % 10 == 0


_PREFIXES = ("4", "51", "55", "2221", "34", "37", "6011", "65", "35", "36", "62")
_FULLWIDTH = {str(d): chr(0xFF10 + d) for d in range(10)}
_ARABIC_INDIC = {str(d): chr(0x0660 + d) for d in range(10)}


@dataclass(frozen=True)
class CardMessage:
    """A generated message holding one card number (and maybe its CVV and expiry)."""

    digits: str  # the card number, ASCII digits only
    text: str  # the message as typed
    cvv_phrase: str | None  # the words + code as typed ("cvv 123"), when a code was given

    @property
    def hidden(self) -> str:
        """What must never appear anywhere: every digit but the last four (the mask keeps those)."""
        return self.digits[:-4]


def _grouped(digits: str, rng: random.Random) -> str:
    """The digits as a person types them: in one run, or in groups joined by spaces or dashes."""
    style = rng.random()
    if style < 0.2:
        return digits
    if style < 0.55:
        sizes = [4] * (len(digits) // 4) + ([len(digits) % 4] if len(digits) % 4 else [])
    elif style < 0.7 and len(digits) == 15:
        sizes = [4, 6, 5]  # American Express
    else:
        sizes, left = [], len(digits)
        while left:
            size = min(left, rng.randint(2, 6))
            sizes.append(size)
            left -= size
    groups, at = [], 0
    for size in sizes:
        groups.append(digits[at : at + size])
        at += size
    joiner = rng.choice([" ", " ", "-", "-", "\u00a0"])
    if rng.random() < 0.1:  # a mix of separators
        return "".join(g + (rng.choice(" -") if i < len(groups) - 1 else "") for i, g in enumerate(groups))
    return joiner.join(groups)


_TEMPLATES = (
    "mi tarjeta es {card}",
    "hola, quiero pagar con la tarjeta {card} por favor",
    "te paso mi visa {card} para el cobro del plan",
    "el número de mi tarjeta: {card}. ¿me la registran?",
    "{card}",
    "no me deja pagar con {card}, ¿qué hago?",
    "cárguenlo a la mastercard {card} gracias",
    "pago con la tarjeta {card} del banco",
    "Mi tarjeta de crédito es {card} y quiero el plan expert",
    "registra esta tarjeta {card} en mi cuenta",
)
_CVV_PHRASES = ("cvv {cvv}", "CVV: {cvv}", "cvc {cvv}", "código de seguridad {cvv}", "el cvv es {cvv}")


def card_messages(count: int, seed: int) -> list[CardMessage]:
    """`count` messages, each with a distinct Luhn-valid card number of 13 to 19 digits."""
    rng = random.Random(seed)
    found: list[CardMessage] = []
    seen: set[str] = set()
    while len(found) < count:
        length = rng.randint(13, 19)
        prefix = rng.choice(_PREFIXES)
        digits = luhn_complete(
            prefix + "".join(rng.choice("0123456789") for _ in range(length - len(prefix) - 1))
        )
        if digits in seen:
            continue
        seen.add(digits)
        card = _grouped(digits, rng)
        if rng.random() < 0.04:  # Unicode digits (fullwidth or Arabic-Indic), as some keyboards type them
            table = rng.choice([_FULLWIDTH, _ARABIC_INDIC])
            card = "".join(table.get(c, c) for c in card)
        text = rng.choice(_TEMPLATES).format(card=card)
        cvv_phrase = None
        extra = rng.random()
        if extra < 0.25:
            cvv_phrase = rng.choice(_CVV_PHRASES).format(
                cvv=f"{rng.randint(100, 9999):03d}"[: rng.choice((3, 3, 4))]
            )
            text += f" {cvv_phrase}"
        elif extra < 0.4:
            expiry = f"{rng.randint(1, 12):02d}/{rng.randint(25, 33)}"
            cvv_phrase = rng.choice(_CVV_PHRASES).format(cvv=f"{rng.randint(100, 999)}")
            text += f" vence {expiry} {cvv_phrase}"
        elif extra < 0.5:
            text += f" vence {rng.randint(1, 12):02d}/{rng.randint(25, 33)}"
        found.append(CardMessage(digits, text, cvv_phrase))
    return found


_SEPARATORS = re.compile(r"[\s\-\u00a0\u2010-\u2014\u2212\ufe63\uff0d]")


def folded(text: str) -> str:
    """`text` with Unicode digits as ASCII and without spaces, dashes or other separators between digits,
    so a card number is found however it was split or written."""
    if not text.isascii():
        text = "".join(str(unicodedata.decimal(c)) if c.isdecimal() else c for c in text)
    return _SEPARATORS.sub("", text)


_DIGIT_RUN = re.compile(r"[0-9]{9,}")


def card_leaks(texts: list[str], messages: list[CardMessage]) -> list[tuple[str, str]]:
    """(card, where) for every card whose hidden digits, or whose code given with its words, appear."""
    hidden = {m.hidden: m.digits for m in messages}
    phrases = {m.cvv_phrase.lower(): m.digits for m in messages if m.cvv_phrase}
    any_phrase = re.compile("|".join(map(re.escape, sorted(phrases, key=len, reverse=True))) or "(?!)")
    lengths = sorted({len(h) for h in hidden})
    found = []
    for text in texts:
        for run in _DIGIT_RUN.findall(folded(text)):
            for length in lengths:
                for start in range(len(run) - length + 1):
                    if (piece := run[start : start + length]) in hidden:
                        found.append((hidden[piece], text[:160]))
        found += [(phrases[m.group().lower()], text[:160]) for m in any_phrase.finditer(text.lower())]
    return found


@pytest.fixture
def card_seed() -> int:
    """A new seed per run, so runs cover different numbers; printed (shown on failure) and replayable with
    SECURITY_CARD_SEED."""
    value = int(os.environ.get("SECURITY_CARD_SEED") or random.SystemRandom().randrange(2**32))
    print(f"SECURITY_CARD_SEED={value}")
    return value

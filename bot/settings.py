"""Settings read once from the environment (and `.env`), validated by pydantic."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """Every setting of the app; `.env.example` documents each one."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", env_ignore_empty=True
    )

    database_url: str = Field(default=f"sqlite:///{PROJECT_ROOT / 'var' / 'bot.db'}")
    engine_url: str = "http://127.0.0.1:5005"
    engine_token: str = "dev-engine-token"
    action_server_port: int = 5055
    # The engine's tracker store (SQLite file by default; PostgreSQL in scale-out) and lock store
    # (in memory by default; redis://host:6379/0 when several engine workers share conversations).
    tracker_store_url: str = f"sqlite:///{PROJECT_ROOT / 'var' / 'tracker.db'}"
    lock_store_url: str | None = None
    # Redis shared by the gateway replicas for live updates (agent console, webchat during a hand-off),
    # e.g. redis://127.0.0.1:6379/0. Unset: updates stay within each gateway process (one replica).
    events_url: str | None = None
    # The Redis channel carrying them (publish/subscribe channels ignore the database number: give each
    # deployment sharing a Redis server its own).
    events_channel: str = "asistente:events"
    # Sanic workers of the engine. More than one share a lock store: LOCK_STORE_URL (redis://… across
    # machines, sqlite:///… on one), or by default a SQLite file beside a SQLite tracker store.
    engine_workers: int = 1
    # The action server the gateway checks when the engine answers nothing (a custom action could not
    # run): while it is down the message is kept and retried. `bot serve` sets it for its gateways; in
    # Kubernetes set it to the action server's Service (e.g. http://asistente-actions:5055).
    action_server_url: str | None = None
    # Seconds the action server keeps the catalogue in memory before re-checking the store's version.
    catalogue_cache_seconds: float = 30.0

    # Gateway: the only public entry point.
    gateway_host: str = "0.0.0.0"
    gateway_port: int = 8000
    # Gateway processes to start (ports gateway_port, gateway_port + 1, …), behind your load balancer.
    gateway_replicas: int = 1
    # Operator metrics (Prometheus) at http://METRICS_HOST:METRICS_PORT/metrics, apart from the public port;
    # replica i of GATEWAY_REPLICAS listens on metrics_port + i. Loopback by default (the figures are for
    # the operator's Prometheus, not the world); 0 turns them off.
    metrics_host: str = "127.0.0.1"
    metrics_port: int = Field(default=9800, ge=0, le=65535)
    # The URL the outside world uses to reach the gateway (Twilio signs requests against it).
    public_url: str = "http://localhost:8000"
    # Shared secret of the host application's webchat tokens (HS256) and of anonymous conversation ids.
    jwt_secret: str = "dev-only-change-me-0123456789abcdef"
    jwt_issuer: str | None = None
    # Origins of the sites allowed to embed the webchat (the widget), e.g. https://www.example.com: they
    # may frame the chat page (Content-Security-Policy frame-ancestors) and call its API (CORS). Empty:
    # the chat is never framed by another site.
    embed_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # Logs as plain lines ("text") or one JSON object per line ("json", for log shippers).
    log_format: Literal["text", "json"] = "text"
    # Development mode: a page to pick a demo user and mint a token. Never enable in production.
    dev_mode: bool = False
    dev_token_minutes: int = 480
    max_message_chars: int = 2000
    max_body_bytes: int = 64 * 1024
    # Each conversation and each client (the address of anonymous traffic, the signed-in user, the WhatsApp
    # number) may send `burst` messages at once, then about `per_second` a second.
    rate_limit_per_second: float = Field(default=1.0, gt=0)
    rate_limit_burst: int = Field(default=8, ge=1)
    # Redis keeping the limits' windows, shared by the gateway replicas (default: EVENTS_URL, the scale-out's
    # Redis; neither set: each process counts in memory).
    rate_limit_url: str | None = None
    # Proxies in front of the gateway whose X-Forwarded-For entries are trusted: 0 (the default) uses the
    # connection's own address; 1 behind one load balancer (its entry is the client's), and so on.
    trusted_proxy_hops: int = Field(default=0, ge=0)
    # Messages one gateway has at the engine at once (the rest wait, stored and in order).
    engine_concurrency: int = 16
    # How long the gateway waits for the engine before apologising (Twilio allows 15 s per webhook).
    engine_timeout_seconds: float = 10.0
    # Seconds between attempts to answer messages stored while the engine was down.
    retry_interval_seconds: float = 5.0
    # `bot serve` supervises its children: one that exits is started again after RESTART_BACKOFF_SECONDS,
    # doubling each time up to RESTART_BACKOFF_MAX_SECONDS; one that does not answer its health check for
    # UNRESPONSIVE_SECONDS (hung) is killed and started again; RESTART_LIMIT restarts of one child within
    # RESTART_WINDOW_SECONDS stop the whole stack.
    restart_backoff_seconds: float = Field(default=1.0, gt=0)
    restart_backoff_max_seconds: float = Field(default=30.0, gt=0)
    unresponsive_seconds: float = Field(default=30.0, gt=0)
    restart_limit: int = Field(default=5, ge=1)
    restart_window_seconds: float = Field(default=300.0, gt=0)
    # WhatsApp texts one gateway sends to Twilio at once (beyond an account's concurrency limit Twilio
    # answers 429, which the outbox retries with backoff). Measured side by side, 20 and 100 are the same
    # here: `make soak ARGS="--scaled --minutes 3"` (PostgreSQL, two gateways, 40 msg/s) p50 46 vs 56 ms,
    # p99 2.1 vs 2.3 s, 0 lost, 0 duplicated; WhatsApp at 100 msg/s in `python -m bench` p99 1.6 vs 1.4 s.
    # The slowness once blamed on 100 was CPU starvation (the webchat, which has no outbox, was as slow),
    # and its duplicates came from leases running out under it (fixed: see `Inbox.answered`).
    outbox_concurrency: int = Field(default=20, ge=1)

    # Hand-off to human agents: the support team's hours (days 0=Monday … 6=Sunday) and time zone,
    # and how long an assigned conversation stays with an agent whose console went quiet.
    support_days: str = "0-4"
    support_hours: str = "09:00-18:00"
    support_timezone: str = "America/Mexico_City"
    agent_timeout_seconds: float = 120.0

    # Twilio WhatsApp. With no credentials the WhatsApp routes are disabled. Texts go out from
    # TWILIO_WHATSAPP_FROM ("whatsapp:+…"), or through a Messaging Service (its sender pool) when
    # TWILIO_MESSAGING_SERVICE_SID is set; incoming messages need the From number either way.
    twilio_account_sid: str | None = None
    twilio_auth_token: str | None = None
    twilio_whatsapp_from: str | None = None
    twilio_messaging_service_sid: str | None = Field(default=None, pattern=r"^MG[0-9a-fA-F]{32}$")
    # Only for tests and local fakes: send Twilio API requests to this base URL instead of api.twilio.com.
    twilio_api_base: str | None = None
    # The approved WhatsApp template (a Content SID, "HX…") sent when an answer or an agent's message finds
    # the customer's 24-hour window closed: it invites them to reply, and what waited goes out when they do.
    # Its variables as JSON ({"1": "Zenvia"}). Unset: such texts wait until the customer writes.
    whatsapp_reopen_template_sid: str | None = Field(default=None, pattern=r"^HX[0-9a-fA-F]{32}$")
    whatsapp_reopen_template_variables: dict[str, str] = Field(default_factory=dict)
    # Attempts at sending one text before it is given up as failed (1 s, 2 s, 4 s … a minute apart).
    outbox_max_attempts: int = Field(default=10, ge=1)
    # Largest file a customer's message may bring to an agent, or an agent attach (WhatsApp's own caps are
    # lower for images: 5 MB).
    media_max_bytes: int = Field(default=16 * 1024 * 1024, ge=1024)

    @field_validator("embed_origins", mode="before")
    @classmethod
    def _origins(cls, value: object) -> object:
        """EMBED_ORIGINS=https://a.example,https://b.example (commas or spaces), without trailing slashes."""
        if isinstance(value, str):
            value = [part for part in value.replace(",", " ").split() if part]
        if isinstance(value, list):
            return [str(origin).rstrip("/") for origin in value]
        return value

    @model_validator(mode="after")
    def _metrics_apart(self) -> Settings:
        """No replica's metrics port is a replica's public port: the metrics never share the public door."""
        replicas = max(1, self.gateway_replicas)
        gateways = set(range(self.gateway_port, self.gateway_port + replicas))
        if self.metrics_port and gateways & set(range(self.metrics_port, self.metrics_port + replicas)):
            raise ValueError(
                f"METRICS_PORT {self.metrics_port} overlaps the gateway's ports: the metrics need their own"
            )
        return self

    @property
    def rate_limit_storage_url(self) -> str | None:
        """Where the rate limits are counted: RATE_LIMIT_URL, else EVENTS_URL, else in memory (None)."""
        return self.rate_limit_url or self.events_url

    @property
    def twilio_enabled(self) -> bool:
        """True when every Twilio credential is configured."""
        return bool(self.twilio_account_sid and self.twilio_auth_token and self.twilio_whatsapp_from)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()

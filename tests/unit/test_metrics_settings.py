"""Where the operator metrics listen: loopback by default, a port per gateway replica, never a public one."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from bot.serve import services
from bot.settings import Settings


def _gateway_ports(settings: Settings) -> list[tuple[str | None, str | None]]:
    members = services(settings, Path("models/unused.tar.gz"))
    return [
        (m.env.get("GATEWAY_PORT"), m.env.get("METRICS_PORT"))
        for m in members
        if m.name.startswith("gateway")
    ]


def test_each_replica_gets_a_metrics_port_of_its_own() -> None:
    settings = Settings(_env_file=None, gateway_port=8000, gateway_replicas=3, metrics_port=9800)
    assert _gateway_ports(settings) == [("8000", "9800"), ("8001", "9801"), ("8002", "9802")]


def test_port_zero_turns_the_metrics_off_for_every_replica() -> None:
    settings = Settings(_env_file=None, gateway_replicas=2, metrics_port=0)
    assert [metrics for _, metrics in _gateway_ports(settings)] == ["0", "0"]


def test_the_defaults_are_loopback_and_apart_from_the_public_port() -> None:
    settings = Settings(_env_file=None)
    assert settings.metrics_host == "127.0.0.1"
    assert settings.metrics_port == 9800 != settings.gateway_port


@pytest.mark.parametrize(
    ("gateway", "replicas", "metrics"), [(8000, 1, 8000), (8000, 2, 7999), (8001, 2, 8000)]
)
def test_a_metrics_port_that_would_be_a_gateway_port_is_refused(
    gateway: int, replicas: int, metrics: int
) -> None:
    with pytest.raises(ValidationError, match="METRICS_PORT"):
        Settings(_env_file=None, gateway_port=gateway, gateway_replicas=replicas, metrics_port=metrics)

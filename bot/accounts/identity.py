"""The verified identity the gateway attaches to each message as `metadata` (never taken from the text)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, StrictInt, ValidationError

METADATA_KEY = "identity"


class Identity(BaseModel):
    """Who sent the message, as verified by the gateway (signed token or verified phone)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    # Strict: the gateway sends integers; `true` or "1" would mean a caller that is not the gateway.
    user_id: StrictInt
    account_id: StrictInt


def identity_from_metadata(metadata: Mapping[str, Any] | None) -> Identity | None:
    """The identity in a message's metadata, or None for an anonymous or malformed one."""
    if not metadata or not isinstance(metadata.get(METADATA_KEY), Mapping):
        return None
    try:
        return Identity.model_validate(metadata[METADATA_KEY])
    except ValidationError:
        return None

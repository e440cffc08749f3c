"""Reads the catalogue YAML files shipped in the package and validates them."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from bot.catalogue.models import Catalogue

SOURCE_FILES = ("plans.yml", "channels.yml", "facts.yml")


def data_dir() -> Path:
    """The folder holding the catalogue's YAML source."""
    return Path(str(resources.files("bot.catalogue") / "data"))


def read_source(folder: Path | None = None) -> dict[str, Any]:
    """Merge the YAML files into one raw mapping."""
    merged: dict[str, Any] = {}
    for name in SOURCE_FILES:
        with (folder or data_dir()).joinpath(name).open(encoding="utf-8") as handle:
            part = yaml.safe_load(handle)
        overlap = merged.keys() & part.keys()
        if overlap:
            raise ValueError(f"{name} repeats top-level keys {sorted(overlap)}")
        merged.update(part)
    return merged


def load_catalogue(folder: Path | None = None) -> Catalogue:
    """Load and validate the catalogue from its YAML source."""
    return Catalogue.model_validate(read_source(folder))

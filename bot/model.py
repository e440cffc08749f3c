"""The trained model, cached by a hash of its inputs: train only when data, domain or config changed."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import time
from pathlib import Path

from bot.settings import PROJECT_ROOT

MODEL_INPUTS = ("config.yml", "domain.yml", "data")


def inputs_hash(root: Path = PROJECT_ROOT) -> str:
    """A hash over the content and relative paths of every training input."""
    digest = hashlib.sha256()
    for name in MODEL_INPUTS:
        path = root / name
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for file in files:
            digest.update(str(file.relative_to(root)).encode())
            digest.update(b"\0")
            digest.update(file.read_bytes())
            digest.update(b"\0")
    return digest.hexdigest()[:20]


def model_path(root: Path = PROJECT_ROOT) -> Path:
    """Where the model for the current inputs lives (it may not exist yet)."""
    return root / "models" / f"model-{inputs_hash(root)}.tar.gz"


def engine_executable(root: Path = PROJECT_ROOT) -> Path:
    """The engine environment's `rasa` command."""
    return root / ".venvs" / "engine" / "bin" / "rasa"


def train(root: Path = PROJECT_ROOT, force: bool = False) -> Path:
    """Train a model unless one for these exact inputs exists; return its path."""
    target = model_path(root)
    if target.exists() and not force:
        print(f"Model up to date: {target.relative_to(root)} (no retraining)")
        return target
    print(f"Training {target.name} (data, domain or config changed)...", flush=True)
    started = time.monotonic()
    command = [
        str(engine_executable(root)),
        "train",
        "--config",
        "config.yml",
        "--domain",
        "domain.yml",
        "--data",
        "data",
        "--out",
        "models",
        "--fixed-model-name",
        target.name.removesuffix(".tar.gz"),
    ]
    subprocess.run(command, cwd=root, check=True)
    print(f"Trained in {time.monotonic() - started:.0f} s: {target.relative_to(root)}")
    for old in (root / "models").glob("model-*.tar.gz"):
        if old != target and old.stat().st_mtime < target.stat().st_mtime - 3600 * 24 * 7:
            old.unlink()
    return target


if __name__ == "__main__":
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    print(train(force="--force" in sys.argv))

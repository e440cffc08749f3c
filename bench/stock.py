"""The stock bot: `rasa init`'s project and model, created once per rasa version under .cache/stock-bot/."""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from bench.procs import run_logged, service
from bot.model import engine_executable
from bot.serve import Service
from bot.settings import PROJECT_ROOT

CACHE = PROJECT_ROOT / ".cache" / "stock-bot"
META = "bench-stock.json"


def rasa_version(root: Path = PROJECT_ROOT) -> str:
    """The engine environment's rasa version (without importing rasa, which takes seconds)."""
    python = engine_executable(root).parent / "python"
    done = subprocess.run(
        [str(python), "-c", "import importlib.metadata as m; print(m.version('rasa'))"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return done.stdout.strip()


@dataclass(frozen=True)
class StockBot:
    """A trained `rasa init` project."""

    directory: Path
    version: str
    init_seconds: float | None  # how long `rasa init` (scaffold and train) took when it was cached

    def model(self) -> Path:
        """The project's trained model."""
        return sorted((self.directory / "models").glob("*.tar.gz"))[-1]


def cached(version: str) -> StockBot | None:
    """The cached stock bot for this rasa version, if there is one."""
    directory = CACHE / f"rasa-{version}"
    meta = directory / META
    if not meta.exists() or not list((directory / "models").glob("*.tar.gz")):
        return None
    seconds = json.loads(meta.read_text()).get("init_seconds")
    return StockBot(directory, version, seconds)


def create(version: str, log: Path, env: dict[str, str]) -> StockBot:
    """`rasa init --no-prompt` in a fresh folder (it trains the default model), then cache it."""
    target = CACHE / f"rasa-{version}"
    work = CACHE / f".init-{version}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    command = [str(engine_executable()), "init", "--no-prompt", "--init-dir", str(work)]
    code, seconds = run_logged(command, log, cwd=work, timeout=1200, env=env)
    if code != 0 or not list((work / "models").glob("*.tar.gz")):
        shutil.rmtree(work, ignore_errors=True)
        raise RuntimeError(f"rasa init failed with code {code} (see {log})")
    (work / META).write_text(json.dumps({"rasa": version, "init_seconds": seconds}))
    shutil.rmtree(target, ignore_errors=True)
    work.rename(target)
    return StockBot(target, version, seconds)


def engine_service(bot: StockBot, port: int) -> Service:
    """`rasa run --enable-api` with the project's default configuration (REST channel, in-memory tracker
    store, no action server: rasa init's actions are commented out), bound to loopback."""
    command = [
        str(engine_executable()),
        "run",
        "--enable-api",
        "--model",
        str(bot.model()),
        "--port",
        str(port),
        "--interface",
        "127.0.0.1",
    ]
    # Stock Rasa: none of our engine speed-ups (they load with every Python of the engine's environment).
    return service("stock engine", command, f"http://127.0.0.1:{port}/", {"ENGINE_SPEEDUPS": "0"})

"""Settings read once from the environment (and `.env`), validated by pydantic."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """Every setting of the app; `.env.example` documents each one."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    database_url: str = Field(default=f"sqlite:///{PROJECT_ROOT / 'var' / 'bot.db'}")
    engine_url: str = "http://127.0.0.1:5005"
    engine_token: str = "dev-engine-token"
    action_server_port: int = 5055
    # Seconds the action server keeps the catalogue in memory before re-checking the store's version.
    catalogue_cache_seconds: float = 30.0


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()

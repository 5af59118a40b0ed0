"""Rewind's configuration: one pydantic settings object read from ``REWIND_*`` variables.

Nothing is required: with no configuration at all, ``rewind serve`` keeps its SQLite event
store and artifacts under ``./rewind-data``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="REWIND_", extra="ignore")

    data_dir: Path = Field(default=Path("rewind-data"), description="events, views, artifacts")
    database_url: SecretStr | None = Field(
        default=None,
        description="postgresql://user[:password]@host[:port]/dbname[?schema=NAME]; "
        "SQLite under data_dir when unset",
    )
    admin_token: SecretStr | None = Field(default=None, description="the first admin token")
    lease_seconds: float = Field(
        default=30.0,
        gt=0,
        description="a job with no progress for this long is resumed by another worker",
    )
    log_format: Literal["json", "console"] | None = Field(
        default=None, description="json outside a terminal, console on one, when unset"
    )
    worker_concurrency: int = Field(default=4, ge=1, description="jobs a worker runs at once")
    verify_interval_seconds: float = Field(
        default=3600.0,
        gt=0,
        description="how often the periodic verifier re-hashes a sample of finished backups",
    )
    verify_sample_share: float = Field(
        default=1.0,
        ge=0,
        le=1,
        description="share (0..1) of SUCCESS and MISSING backups verified each round; "
        "0 turns the periodic verifier off",
    )
    scheduler_tick_seconds: float = Field(
        default=30.0,
        gt=0,
        description="how often the scheduler looks for due plan ticks and expired backups",
    )
    ready_max_lag: int = Field(1000, ge=0, description="/readyz: 503 beyond this lag in events")
    database_pool_size: int = Field(
        default=10,
        ge=1,
        description="PostgreSQL connections each pool keeps open (a process has several)",
    )
    database_max_overflow: int = Field(
        default=10, ge=0, description="extra PostgreSQL connections a pool may open under load"
    )

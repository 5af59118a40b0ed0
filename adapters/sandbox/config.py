"""The knobs of the sandbox PBX (the ``rewind sandbox`` flags map one to one onto these fields)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class SandboxConfig(BaseModel):
    """Size, content seed and fault injection of one sandbox PBX.

    The counts (``tenants``, ``groups`` per tenant, ``users`` per group) alone decide every id, so
    two sandboxes with equal counts hold the same scopes; ``seed`` decides the content (names,
    numbers, settings, audio bytes) and the fault dice. ``media_kb`` is the size of every audio
    file, header included, so ``users * media_kb`` tells how much media a group carries.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    host: str = "127.0.0.1"
    port: int = Field(default=8090, ge=0, le=65535)
    tenants: int = Field(default=2, ge=1, le=999)
    groups: int = Field(default=2, ge=1, le=999)
    users: int = Field(default=10, ge=0, le=9999)
    seed: int = 1
    latency_ms: float = Field(default=0, ge=0)
    error_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    timeout_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    media_kb: int = Field(default=64, ge=1)
    hang_seconds: float = Field(default=30.0, ge=0.0)
    credentials: str | None = Field(default=None, repr=False)
    """When set, calls must authenticate with them (adapters.sandbox.auth)."""

"""The Host aggregate: a registered PBX, source of backups and target of restores.

Credentials arrive here already sealed (encrypted by the adapters), so no event ever holds
them in the clear: the event log is append-only and would keep a plain secret forever.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from domain.guards import guard_id
from domain.model import Aggregate, Immutable


class HostSettings(Immutable):
    """What is known about a host (seed 001's hosts carry the four flags)."""

    name: str
    base_url: str
    sealed_credentials: str | None = None
    active: bool = True
    is_console: bool = True
    stores_data: bool = True
    data_backups_configured: bool = True


class Host(Aggregate):
    @staticmethod
    def create_id(host_id: str, **_: Any) -> UUID:
        return host_uuid(host_id)

    class Registered(Aggregate.Created):
        host_id: str
        settings: HostSettings
        principal: str

    @event(Registered)
    def __init__(self, host_id: str, settings: HostSettings, principal: str) -> None:
        self.host_id = host_id
        self.settings = settings
        self.registered_by = principal

    def update(self, settings: HostSettings, principal: str) -> None:
        if settings != self.settings:
            self._updated(settings=settings, principal=principal)

    class Updated(Aggregate.Event):
        settings: HostSettings
        principal: str

    @event(Updated)
    def _updated(self, settings: HostSettings, principal: str) -> None:
        self.settings = settings


def host_uuid(host_id: str) -> UUID:
    """Hosts are addressed by their short id; the aggregate id derives from it."""
    return guard_id("host", host_id)

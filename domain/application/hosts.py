"""Hosts: the PBXs Rewind backs up, registered once under a unique id."""

from __future__ import annotations

from domain.application.base import ApplicationBase
from domain.errors import HostAlreadyRegistered
from domain.guards import HostDirectory
from domain.host import Host, HostSettings, host_uuid


class HostCommands(ApplicationBase):
    """Register, update and list hosts."""

    def register_host(self, host_id: str, settings: HostSettings, principal: str) -> Host:
        def command() -> Host:
            if host_uuid(host_id) in self.repository:
                raise HostAlreadyRegistered(f"host {host_id!r} is already registered")
            host = Host(host_id=host_id, settings=settings, principal=principal)
            directory = self._get_or_open(HostDirectory, HostDirectory.create_id())
            directory.add(host_id)
            self.save(host, directory)
            return host

        return self._retrying(command)

    def update_host(self, host_id: str, settings: HostSettings, principal: str) -> Host:
        def command() -> Host:
            host = self.get_host(host_id)
            host.update(settings, principal)
            self.save(host)
            return host

        return self._retrying(command)

    def list_hosts(self) -> list[Host]:
        directory = self._get_or_open(HostDirectory, HostDirectory.create_id())
        return [self.get_host(host_id) for host_id in directory.host_ids]

    def has_host(self, host_id: str) -> bool:
        return host_uuid(host_id) in self.repository

"""The tree PBX driver: a PBX whose REST API is one tree of URLs under ``/1.0/tenants/``
(what the sandbox serves). What can be backed up on this kind is what these URLs name."""

from adapters.pbx.tree.driver import TreeGateway

__all__ = ["TreeGateway"]

"""The gateway factory: which driver speaks to a PBX of a given kind.

The worker and the API's scope probe ask here instead of naming a driver, so adding a PBX
kind is one driver package and one entry in ``DRIVERS``.
"""

from __future__ import annotations

from collections.abc import Callable

from adapters.pbx.client import PbxClient
from adapters.pbx.tree import TreeGateway
from domain.ports.pbx import PbxGateway

DEFAULT_KIND = "tree"

DRIVERS: dict[str, Callable[[PbxClient], PbxGateway]] = {"tree": TreeGateway}


def gateway_for(client: PbxClient, kind: str = DEFAULT_KIND) -> PbxGateway:
    """The driver for ``kind`` over ``client``; ValueError naming the kinds known."""
    driver = DRIVERS.get(kind)
    if driver is None:
        raise ValueError(f"unknown PBX kind {kind!r}: expected one of {sorted(DRIVERS)}")
    return driver(client)

"""The 1015 guard's overlap test, written out field by field for speed, must mean exactly
"one scope contains the other" (a host contains its tenants, a tenant its groups)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from domain.scope import Scope

_names = st.sampled_from(["a", "b"])


@st.composite
def scopes(draw: st.DrawFn) -> Scope:
    host = draw(_names)
    tenant = draw(st.none() | _names)
    group = None if tenant is None else draw(st.none() | _names)
    return Scope(host_id=host, tenant_id=tenant, group_id=group)


@given(scopes(), scopes())
def test_overlap_is_containment_either_way(a: Scope, b: Scope) -> None:
    assert a.overlaps(b) == (a.contains(b) or b.contains(a))
    assert a.overlaps(b) == b.overlaps(a)


def test_examples() -> None:
    host = Scope(host_id="h")
    tenant = Scope(host_id="h", tenant_id="t")
    group = Scope(host_id="h", tenant_id="t", group_id="g")
    other_group = Scope(host_id="h", tenant_id="t", group_id="g2")
    other_host = Scope(host_id="h2")
    assert host.overlaps(group) and tenant.overlaps(group) and group.overlaps(group)
    assert not group.overlaps(other_group) and not host.overlaps(other_host)

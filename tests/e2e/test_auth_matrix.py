"""Every route x every kind of caller, against a real ``rewind serve --demo``.

Callers: no token, a viewer, a backup_operator, an admin, and a backup_operator limited to
tenant t02 (the fixtures all live in tenant t01). Each route's expected answers follow from
the permission it needs (api.core.policy) and from how it treats tenants:

- no token: 401 everywhere but the health probes;
- a role without the permission: 403;
- the other tenant's operator, when its role would do: 404 for a t01 resource named in the
  path or the body (exactly as for one that does not exist), 403 for global routes, and
  lists without any t01 item;
- otherwise the route's own success (or, for a move the lifecycle refuses, its 409).

``MATRIX`` must hold every route of ``app.router`` (HEAD as GET, trailing slash ignored):
a route added without an entry here fails ``test_every_route_is_in_the_matrix``, and one
without a policy entry fails ``test_every_route_has_a_policy``.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from adapters.settings import Settings
from api.core.app import ServeOptions, create_app
from api.core.policy import POLICY, policy_key
from api.dialects.qradar.ids import long_id
from tests.support.http import call, call_raw, wait_finished
from tests.support.processes import start_serve

ADMIN = "matrix-admin-token-0123456789"
G1 = {"tenant_id": "t01", "group_id": "t01-g01"}
G2 = {"tenant_id": "t01", "group_id": "t01-g02"}
OTHER = {"tenant_id": "t02", "group_id": "t02-g01"}
APIO = "/api/v1/tenants/t01/groups/t01-g01/batch"
ROLES = ("none", "viewer", "backup_operator", "admin", "other_tenant")
_names = itertools.count()


@dataclass
class World:
    base: str
    tokens: dict[str, str]
    backup: dict[str, Any]  # t01/t01-g01, SUCCESS
    backup_b: dict[str, Any]  # t01/t01-g02, SUCCESS
    victims: list[str]  # SUCCESS t01 backups the admin's DELETE may remove
    restore: dict[str, Any]  # a finished restore of ``backup``
    revocable: list[str]  # token ids the admin's DELETE may revoke
    qradar_hosts: dict[str, int]  # caller -> the QRadar Long of a host of its own
    plan_id: int  # a plan with a staged change (deploy, pause, resume, run, PUT)
    plan_victim: int  # a plan the admin's DELETE may remove
    schedule_id: int  # a General Bots schedule the admin's PUT may edit
    schedule_victim: int  # one the admin's DELETE may remove
    caller: str = "none"  # the role being asked now (bodies that must differ per caller)


def _finished(base: str, kind: str, job_id: str) -> dict[str, Any]:
    view = wait_finished(base, kind, job_id, ADMIN)
    assert view["status"] == "SUCCESS", view
    return view


def _backup(base: str, scope: dict[str, str]) -> dict[str, Any]:
    status, accepted, _ = call("POST", f"{base}/api/v1/backups", ADMIN, scope)
    assert status == 202, accepted
    return _finished(base, "backups", accepted["id"])


def _token(base: str, role: str, tenants: list[str] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"name": f"{role}-{next(_names)}", "role": role}
    if tenants is not None:
        body["tenants"] = tenants
    status, created, _ = call("POST", f"{base}/api/v1/tokens", ADMIN, body)
    assert status == 201, created
    return dict(created)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    data_dir = tmp_path_factory.mktemp("matrix") / "data"
    serve, base = start_serve(data_dir, ADMIN, "--demo")
    try:
        tokens = {
            "none": "",
            "admin": ADMIN,
            "viewer": _token(base, "viewer")["token"],
            "backup_operator": _token(base, "backup_operator")["token"],
            "other_tenant": _token(base, "backup_operator", ["t02"])["token"],
        }
        backup = _backup(base, G1)
        victims = [_backup(base, G1)["id"] for _ in range(3)]
        backup_b = _backup(base, G2)
        _backup(base, OTHER)
        status, accepted, _ = call(
            "POST",
            f"{base}/api/v1/restores",
            ADMIN,
            {"backup_id": backup["id"], "safety_backup": False},
        )
        assert status == 202, accepted
        restore = _finished(base, "restores", accepted["id"])
        revocable = [_token(base, "viewer")["id"]]
        yield World(
            base, tokens, backup, backup_b, victims, restore, revocable, *_plans_world(base)
        )
    finally:
        serve.stop()


def _created(method: str, url: str, body: dict[str, Any], want: int = 201) -> Any:
    status, answer, _ = call(method, url, ADMIN, body)
    assert status == want, answer
    return answer


def _plans_world(base: str) -> tuple[dict[str, int], int, int, int, int]:
    """What the QRadar, plan and General Bots cases act on: a host per caller that may create
    (whole-host QRadar backups of one host would refuse each other, 1015), two plans (one
    with a staged change) and two schedules."""
    _, hosts, _ = call("GET", f"{base}/api/v1/hosts", ADMIN)
    pbx = hosts["items"][0]["base_url"]
    for caller in ROLES:
        _created(
            "POST", f"{base}/api/v1/hosts", {"id": f"qr-{caller}", "name": caller, "base_url": pbx}
        )
    _, listed, _ = call("GET", f"{base}/api/config/deployment/hosts", ADMIN)
    longs = {h["rewind_host_id"]: h["id"] for h in listed}
    plan = {"name": "matrix", "tenant_id": "t01", "group_id": "t01-g02"}
    plan_id = _created("POST", f"{base}/api/v1/plans", plan)["id"]
    _created("PUT", f"{base}/api/v1/plans/{plan_id}", {"keep_last": 3}, 200)
    victim = _created("POST", f"{base}/api/v1/plans", {**plan, "name": "matrix-victim"})["id"]
    schedule = {"cron": "0 2 * * *", "type": "full", "retention_days": 30}
    schedules = [
        _created("POST", f"{base}/api/v1/backup/schedule", schedule)["schedule_id"]
        for _ in range(2)
    ]
    return {c: longs[f"qr-{c}"] for c in ROLES}, plan_id, victim, schedules[0], schedules[1]


# ------------------------------------------------------------------ the matrix
@dataclass(frozen=True)
class Case:
    """How to call one route, what it needs, and what success looks like."""

    path: Callable[[World], str]
    need: str  # open | read | operate | admin
    ok: int
    body: Callable[[World], Any] | None = None
    tenancy: str = "scoped"  # scoped (404) | list (filtered) | global (403) | open | unscoped
    headers: dict[str, str] | None = None


def _fixed(path: str) -> Callable[[World], str]:
    return lambda _w: path


def _bid(w: World) -> str:
    return str(w.backup["id"])


def _ref(w: World) -> str:
    return str(w.backup["reference_id"])


def _global_create(path: str, body: Callable[[], dict[str, Any]]) -> Case:
    """An admin-only creation outside any tenant (201; 403 to a tenant-limited token)."""
    return Case(_fixed(path), "admin", 201, lambda _w: body(), tenancy="global")


B = "/api/v1/backups"
MATRIX: dict[tuple[str, str], Case] = {
    ("GET", "/healthz"): Case(_fixed("/healthz"), "open", 200, tenancy="open"),
    ("GET", "/readyz"): Case(_fixed("/readyz"), "open", 200, tenancy="open"),
    ("POST", B): Case(_fixed(B), "operate", 202, lambda w: {**G1, "force_backup": True}),
    ("GET", B): Case(_fixed(B), "read", 200, tenancy="list"),
    ("GET", f"{B}/{{backup_id}}"): Case(lambda w: f"{B}/{_bid(w)}", "read", 200),
    ("GET", f"{B}/{{backup_id}}/events"): Case(lambda w: f"{B}/{_bid(w)}/events", "read", 200),
    ("GET", f"{B}/{{backup_id}}/report"): Case(lambda w: f"{B}/{_ref(w)}/report", "read", 200),
    ("POST", f"{B}/{{backup_id}}/cancel"): Case(lambda w: f"{B}/{_bid(w)}/cancel", "operate", 409),
    ("POST", f"{B}/{{backup_id}}/verify"): Case(lambda w: f"{B}/{_bid(w)}/verify", "operate", 200),
    ("DELETE", f"{B}/{{backup_id}}"): Case(lambda w: f"{B}/{w.victims[0]}", "admin", 202),
    ("GET", f"{B}/{{a}}/diff/{{b}}"): Case(
        lambda w: f"{B}/{_bid(w)}/diff/{w.backup_b['id']}", "read", 200
    ),
    ("POST", "/api/v1/restores"): Case(
        _fixed("/api/v1/restores"),
        "admin",
        200,
        lambda w: {"backup_id": _bid(w), "dry_run": True},
    ),
    ("GET", "/api/v1/restores"): Case(_fixed("/api/v1/restores"), "read", 200, tenancy="list"),
    ("GET", "/api/v1/restores/{restore_id}"): Case(
        lambda w: f"/api/v1/restores/{w.restore['id']}", "read", 200
    ),
    ("POST", "/api/v1/restores/{restore_id}/cancel"): Case(
        lambda w: f"/api/v1/restores/{w.restore['id']}/cancel", "admin", 409
    ),
    ("GET", "/api/v1/hosts"): Case(_fixed("/api/v1/hosts"), "read", 200, tenancy="list"),
    ("POST", "/api/v1/hosts"): _global_create(
        "/api/v1/hosts", lambda: {"name": f"pbx-{next(_names)}", "base_url": "http://127.0.0.1:9/"}
    ),
    ("GET", "/api/v1/tokens"): Case(_fixed("/api/v1/tokens"), "admin", 200, tenancy="global"),
    ("POST", "/api/v1/tokens"): _global_create(
        "/api/v1/tokens", lambda: {"name": f"made-{next(_names)}", "role": "viewer"}
    ),
    ("DELETE", "/api/v1/tokens/{token_id}"): Case(
        lambda w: f"/api/v1/tokens/{w.revocable[0]}", "admin", 200, tenancy="global"
    ),
}


def _global(path: Callable[[World], str], need: str, ok: int, body: Any = None, **kw: Any) -> Case:
    """A route a tenant-limited token may not use at all (403), whatever its role."""
    return Case(path, need, ok, body, tenancy="global", **kw)


QR = "/api/backup_and_restore/backups"
PL = "/api/v1/plans"
GB = "/api/v1/backup"
_GB_TARGET = {"backup_operator": "t02-g01", "admin": "t02-g02"}  # distinct: no 1015
MATRIX.update(
    {
        ("POST", QR): _global(
            _fixed(QR),
            "operate",
            201,
            lambda w: {
                "name": f"qr-{next(_names)}",
                "configuration_id": 1,
                "host_id": w.qradar_hosts[w.caller],
            },
            headers={"backup_type": "CONFIG"},
        ),
        ("GET", QR): _global(_fixed(QR), "read", 200),
        ("GET", f"{QR}/{{id}}"): _global(lambda w: f"{QR}/{long_id(UUID(_bid(w)))}", "read", 200),
        ("DELETE", f"{QR}/{{id}}"): _global(
            lambda w: f"{QR}/{long_id(UUID(w.victims[1]))}", "admin", 202
        ),
        ("GET", "/api/config/deployment/hosts"): _global(
            _fixed("/api/config/deployment/hosts"), "read", 200
        ),
        ("GET", PL): _global(_fixed(PL), "read", 200),
        ("POST", PL): _global(
            _fixed(PL),
            "admin",
            201,
            lambda w: {"name": f"plan-{next(_names)}", "tenant_id": "t01", "group_id": "t01-g02"},
        ),
        ("GET", f"{PL}/{{plan_id}}"): _global(lambda w: f"{PL}/{w.plan_id}", "read", 200),
        ("PUT", f"{PL}/{{plan_id}}"): _global(
            lambda w: f"{PL}/{w.plan_id}", "admin", 200, lambda w: {"keep_last": 5}
        ),
        ("DELETE", f"{PL}/{{plan_id}}"): _global(lambda w: f"{PL}/{w.plan_victim}", "admin", 204),
        ("POST", f"{PL}/{{plan_id}}/deploy"): _global(
            lambda w: f"{PL}/{w.plan_id}/deploy", "admin", 200
        ),
        ("POST", f"{PL}/{{plan_id}}/pause"): _global(
            lambda w: f"{PL}/{w.plan_id}/pause", "admin", 200
        ),
        ("POST", f"{PL}/{{plan_id}}/resume"): _global(
            lambda w: f"{PL}/{w.plan_id}/resume", "admin", 200
        ),
        ("POST", f"{PL}/{{plan_id}}/run"): _global(lambda w: f"{PL}/{w.plan_id}/run", "admin", 202),
        ("POST", f"{GB}/create"): _global(
            _fixed(f"{GB}/create"),
            "operate",
            201,
            lambda w: {"tenant_id": "t02", "group_id": _GB_TARGET.get(w.caller, "t02-g01")},
        ),
        ("GET", f"{GB}/list"): _global(_fixed(f"{GB}/list"), "read", 200),
        ("GET", f"{GB}/{{backup_id}}"): _global(lambda w: f"{GB}/{_bid(w)}", "read", 200),
        ("DELETE", f"{GB}/{{backup_id}}"): _global(lambda w: f"{GB}/{w.victims[2]}", "admin", 200),
        ("POST", f"{GB}/restore/{{backup_id}}"): _global(
            lambda w: f"{GB}/restore/{_bid(w)}", "admin", 200, lambda w: {"dry_run": True}
        ),
        ("GET", f"{GB}/restore/{{job_id}}/status"): _global(
            lambda w: f"{GB}/restore/{w.restore['id']}/status", "read", 200
        ),
        ("GET", f"{GB}/schedule"): _global(_fixed(f"{GB}/schedule"), "read", 200),
        ("POST", f"{GB}/schedule"): _global(
            _fixed(f"{GB}/schedule"), "admin", 201, lambda w: {"cron": "0 3 * * *"}
        ),
        ("PUT", f"{GB}/schedule/{{schedule_id}}"): _global(
            lambda w: f"{GB}/schedule/{w.schedule_id}",
            "admin",
            200,
            lambda w: {"retention_days": 10},
        ),
        ("DELETE", f"{GB}/schedule/{{schedule_id}}"): _global(
            lambda w: f"{GB}/schedule/{w.schedule_victim}", "admin", 200
        ),
    }
)

MATRIX[("GET", "/api/v1/events")] = _global(_fixed("/api/v1/events"), "read", 200)
MATRIX[("GET", "/metrics")] = _global(_fixed("/metrics"), "read", 200)
MATRIX[("GET", f"{B}/{{backup_id}}/archive")] = Case(
    lambda w: f"{B}/{_bid(w)}/archive", "read", 200
)
MATRIX[("POST", "/api/backups")] = _global(_fixed("/api/backups"), "read", 200, lambda w: {})
MATRIX[("GET", "/api/v1/openapi.json")] = Case(
    _fixed("/api/v1/openapi.json"), "read", 200, tenancy="unscoped"
)

_APIO_PATTERN = "/api/v1/tenants/{tenant_id}/groups/{group_id}/batch"
_force = {"force_backup": True}
for method in ("GET", "POST"):
    MATRIX[(method, f"{_APIO_PATTERN}/backup/start")] = Case(
        _fixed(f"{APIO}/backup/start/"), "operate", 202, lambda w: _force
    )
    MATRIX[(method, f"{_APIO_PATTERN}/backup/polling/{{instance_name}}")] = Case(
        lambda w: f"{APIO}/backup/polling/{_ref(w)}/", "read", 200
    )
    MATRIX[(method, f"{_APIO_PATTERN}/backup/stop/{{instance_name}}")] = Case(
        lambda w: f"{APIO}/backup/stop/{_ref(w)}/", "operate", 409
    )
MATRIX[("GET", f"{_APIO_PATTERN}/backups")] = Case(_fixed(f"{APIO}/backups/"), "read", 200)
MATRIX[("GET", f"{_APIO_PATTERN}/backup")] = Case(_fixed(f"{APIO}/backup/"), "read", 200)
MATRIX[("GET", f"{_APIO_PATTERN}/backups/{{instance_name}}")] = Case(
    lambda w: f"{APIO}/backups/{_ref(w)}/", "read", 200
)

GRANTS = {
    "none": set(),
    "viewer": {"read"},
    "backup_operator": {"read", "operate"},
    "other_tenant": {"read", "operate"},
    "admin": {"read", "operate", "admin"},
}


def expected(case: Case, role: str) -> int:
    if case.need == "open":
        return case.ok
    if role == "none":
        return 401
    if case.need not in GRANTS[role]:
        return 403
    if role == "other_tenant":
        if case.tenancy == "global":
            return 403
        if case.tenancy == "scoped":
            return 404
    return case.ok


def _router_keys(tmp_path: Path) -> set[tuple[str, str]]:
    app = create_app(ServeOptions(settings=Settings(data_dir=tmp_path / "unused")))
    keys = set()
    for route in app.router.routes():
        resource = route.resource
        assert resource is not None
        keys.add(policy_key(route.method, resource.canonical))
    return keys


def test_every_route_is_in_the_matrix(tmp_path: Path) -> None:
    missing = sorted(_router_keys(tmp_path) - set(MATRIX))
    assert not missing, f"routes without a matrix entry (add them to MATRIX): {missing}"


def test_every_route_has_a_policy(tmp_path: Path) -> None:
    routes = _router_keys(tmp_path)
    missing = sorted(routes - set(POLICY))
    assert not missing, f"routes without an entry in api/core/policy.py POLICY: {missing}"
    stale = sorted(set(POLICY) - routes)
    assert not stale, f"POLICY entries for routes that do not exist (a typo?): {stale}"


def _t01_items(body: Any) -> list[Any]:
    items = body["items"] if isinstance(body, dict) else []
    return [i for i in items if isinstance(i, dict) and i.get("tenant_id") == "t01"]


@pytest.mark.parametrize("key", sorted(MATRIX), ids=lambda k: f"{k[0]} {k[1]}")
def test_route_answers_each_caller_as_its_role_says(world: World, key: tuple[str, str]) -> None:
    case = MATRIX[key]
    method = key[0]
    seen: dict[str, tuple[int, Any]] = {}
    for role in ROLES:  # the admin last: its success may consume the fixture
        world.caller = role
        body = None if case.body is None else case.body(world)
        url = world.base + case.path(world)
        status, payload, head = call_raw(method, url, world.tokens[role], body, case.headers)
        is_json = head.get("Content-Type", "").startswith("application/json")
        answer = json.loads(payload) if payload and is_json else payload
        seen[role] = (status, answer)
        assert status == expected(case, role), (role, status, answer)
        assert status < 500
    if case.tenancy == "list" and key[1] != "/api/v1/hosts":
        assert _t01_items(seen["admin"][1]), "the admin's list shows t01's items"
        assert not _t01_items(seen["other_tenant"][1]), "t02's token must not see t01's items"
        assert seen["other_tenant"][1]["total"] == len(seen["other_tenant"][1]["items"])
    if expected(case, "other_tenant") == 404:
        # Worded as for a resource that does not exist.
        message = " ".join(seen["other_tenant"][1])
        assert "not found" in message or "has no tenant" in message, message


def test_refused_calls_record_nothing(world: World) -> None:
    """A viewer's and another tenant's refused commands leave no trace in the backup's log."""
    path = f"{world.base}{B}/{world.backup['id']}/events"
    before = call("GET", path, ADMIN)[1]["total"]
    call("POST", f"{world.base}{B}/{world.backup['id']}/cancel", world.tokens["viewer"])
    call("POST", f"{world.base}{B}/{world.backup['id']}/cancel", world.tokens["other_tenant"])
    call("DELETE", f"{world.base}{B}/{world.backup['id']}", world.tokens["backup_operator"])
    assert call("GET", path, ADMIN)[1]["total"] == before


def test_the_principal_is_recorded_and_shown(world: World) -> None:
    """A command's principal is the token's name: initiated_by, APIO's user_id, the events."""
    status, accepted, _ = call(
        "POST", f"{world.base}{B}", world.tokens["backup_operator"], {**G2, "force_backup": True}
    )
    assert status == 202
    _, created, _ = call("GET", f"{world.base}/api/v1/tokens", ADMIN)
    names = {t["name"] for t in created["items"] if t["role"] == "backup_operator"}
    view = call("GET", f"{world.base}{B}/{accepted['id']}", ADMIN)[1]
    assert view["initiated_by"] in names
    events = call("GET", f"{world.base}{B}/{accepted['id']}/events", ADMIN)[1]["items"]
    assert events[0]["principal"] == view["initiated_by"]
    apio = "/api/v1/tenants/t01/groups/t01-g02/batch/backups/"
    listed = call("GET", f"{world.base}{apio}", ADMIN)[1]["backups"]
    assert view["initiated_by"] in {item["user_id"] for item in listed}


def test_other_tenant_sees_its_own(world: World) -> None:
    """The tenant-limited token is not merely refused everything: its tenant's backups show."""
    status, listed, _ = call("GET", f"{world.base}{B}", world.tokens["other_tenant"])
    assert status == 200
    assert listed["items"] and {i["tenant_id"] for i in listed["items"]} == {"t02"}
    one = listed["items"][0]["id"]
    assert call("GET", f"{world.base}{B}/{one}", world.tokens["other_tenant"])[0] == 200
    whole_host: dict[str, Any] = {}
    status, answer, _ = call("POST", f"{world.base}{B}", world.tokens["other_tenant"], whole_host)
    assert status == 403, answer

"""Who may call the Unitrends route (seed 004): a query over every tenant's backups, not
filtered by tenant, so a token limited to tenants is refused."""

from __future__ import annotations

from api.core.policy import Permission, Rule, Rules

RULES: Rules = {
    ("POST", "/api/backups"): Rule(Permission.READ, all_tenants=True),
}

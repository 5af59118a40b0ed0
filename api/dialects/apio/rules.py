"""Who may call the APIO routes (seed 000): the tenant is in the path, so a token limited to
other tenants gets the 404 of a group that does not exist."""

from __future__ import annotations

from api.core.policy import Permission, Rule, Rules, tenant

R, OP = Permission.READ, Permission.OPERATE
APIO = "/api/v1/tenants/{tenant_id}/groups/{group_id}/batch"

RULES: Rules = {
    ("GET", f"{APIO}/backup/start"): Rule(OP, (tenant(),)),
    ("POST", f"{APIO}/backup/start"): Rule(OP, (tenant(),)),
    ("GET", f"{APIO}/backup/polling/{{instance_name}}"): Rule(R, (tenant(),)),
    ("POST", f"{APIO}/backup/polling/{{instance_name}}"): Rule(R, (tenant(),)),
    ("GET", f"{APIO}/backups"): Rule(R, (tenant(),)),
    ("GET", f"{APIO}/backup"): Rule(R, (tenant(),)),
    ("GET", f"{APIO}/backups/{{instance_name}}"): Rule(R, (tenant(),)),
    ("GET", f"{APIO}/backup/stop/{{instance_name}}"): Rule(OP, (tenant(),)),
    ("POST", f"{APIO}/backup/stop/{{instance_name}}"): Rule(OP, (tenant(),)),
}

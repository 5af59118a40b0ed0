"""Who may call the General Bots routes (seed 002's roles table): its handlers do not filter
by tenant, so a tenant-limited token is refused rather than shown everything."""

from __future__ import annotations

from api.core.policy import Permission, Rule, Rules

R, OP, A = Permission.READ, Permission.OPERATE, Permission.ADMIN
GB = "/api/v1/backup"

RULES: Rules = {
    ("POST", f"{GB}/create"): Rule(OP, all_tenants=True),
    ("GET", f"{GB}/list"): Rule(R, all_tenants=True),
    ("GET", f"{GB}/{{backup_id}}"): Rule(R, all_tenants=True),
    ("DELETE", f"{GB}/{{backup_id}}"): Rule(A, all_tenants=True),
    ("POST", f"{GB}/restore/{{backup_id}}"): Rule(A, all_tenants=True),
    ("GET", f"{GB}/restore/{{job_id}}/status"): Rule(R, all_tenants=True),
    ("GET", f"{GB}/schedule"): Rule(R, all_tenants=True),
    ("POST", f"{GB}/schedule"): Rule(A, all_tenants=True),
    ("PUT", f"{GB}/schedule/{{schedule_id}}"): Rule(A, all_tenants=True),
    ("DELETE", f"{GB}/schedule/{{schedule_id}}"): Rule(A, all_tenants=True),
}

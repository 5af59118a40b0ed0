"""Who may call the QRadar routes (seed 001): its backups are whole hosts addressed by Long
ids and its handlers do not filter by tenant, so a token limited to tenants is refused."""

from __future__ import annotations

from api.core.policy import Permission, Rule, Rules

R, OP, A = Permission.READ, Permission.OPERATE, Permission.ADMIN
QRADAR = "/api/backup_and_restore/backups"

RULES: Rules = {
    ("POST", QRADAR): Rule(OP, all_tenants=True),
    ("GET", QRADAR): Rule(R, all_tenants=True),
    ("GET", f"{QRADAR}/{{id}}"): Rule(R, all_tenants=True),
    ("DELETE", f"{QRADAR}/{{id}}"): Rule(A, all_tenants=True),
    ("GET", "/api/config/deployment/hosts"): Rule(R, all_tenants=True),
}

"""Who may call the native routes (api.core.policy explains roles and tenancy)."""

from __future__ import annotations

from api.core.policy import Permission, Rule, Rules, backup, restore

R, OP, A = Permission.READ, Permission.OPERATE, Permission.ADMIN
BACKUP = "/api/v1/backups/{backup_id}"
PLANS = "/api/v1/plans"

RULES: Rules = {
    # backups
    ("POST", "/api/v1/backups"): Rule(OP),  # the handler checks the body's tenant
    ("GET", "/api/v1/backups"): Rule(R),  # filtered to the token's tenants
    ("GET", BACKUP): Rule(R, (backup("backup_id"),)),
    ("GET", f"{BACKUP}/events"): Rule(R, (backup("backup_id"),)),
    ("GET", f"{BACKUP}/report"): Rule(R, (backup("backup_id"),)),
    ("POST", f"{BACKUP}/cancel"): Rule(OP, (backup("backup_id"),)),
    ("POST", f"{BACKUP}/verify"): Rule(OP, (backup("backup_id"),)),
    ("DELETE", BACKUP): Rule(A, (backup("backup_id"),)),
    ("GET", "/api/v1/backups/{a}/diff/{b}"): Rule(R, (backup("a"), backup("b"))),
    ("GET", f"{BACKUP}/archive"): Rule(R, (backup("backup_id"),)),
    # restores
    ("POST", "/api/v1/restores"): Rule(A),  # the handler checks the backup's tenant
    ("GET", "/api/v1/restores"): Rule(R),  # filtered
    ("GET", "/api/v1/restores/{restore_id}"): Rule(R, (restore("restore_id"),)),
    ("POST", "/api/v1/restores/{restore_id}/cancel"): Rule(A, (restore("restore_id"),)),
    # hosts and tokens: global
    ("GET", "/api/v1/hosts"): Rule(R),
    ("POST", "/api/v1/hosts"): Rule(A, all_tenants=True),
    ("GET", "/api/v1/tokens"): Rule(A, all_tenants=True),
    ("POST", "/api/v1/tokens"): Rule(A, all_tenants=True),
    ("DELETE", "/api/v1/tokens/{token_id}"): Rule(A, all_tenants=True),
    # plans: saved configurations spanning hosts and tenants
    ("GET", PLANS): Rule(R, all_tenants=True),
    ("POST", PLANS): Rule(A, all_tenants=True),
    ("GET", f"{PLANS}/{{plan_id}}"): Rule(R, all_tenants=True),
    ("PUT", f"{PLANS}/{{plan_id}}"): Rule(A, all_tenants=True),
    ("DELETE", f"{PLANS}/{{plan_id}}"): Rule(A, all_tenants=True),
    ("POST", f"{PLANS}/{{plan_id}}/deploy"): Rule(A, all_tenants=True),
    ("POST", f"{PLANS}/{{plan_id}}/pause"): Rule(A, all_tenants=True),
    ("POST", f"{PLANS}/{{plan_id}}/resume"): Rule(A, all_tenants=True),
    ("POST", f"{PLANS}/{{plan_id}}/run"): Rule(A, all_tenants=True),
    # the global event feed spans every tenant
    ("GET", "/api/v1/events"): Rule(R, all_tenants=True),
}

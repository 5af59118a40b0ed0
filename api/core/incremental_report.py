"""What an incremental or differential backup's native report adds: which entities changed
since its base and which did not.

Only backups with a base get it, so the report of a full backup keeps seed 000's shape
(``main``, ``group``, ``user``) exactly.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from projections.rows import BackupRow, OutcomeRow


def changes_section(row: BackupRow, outcomes: Iterable[OutcomeRow]) -> dict[str, Any] | None:
    """``{base_backup_id, backup_type, changed: [keys], unchanged: [keys]}``, or None for a
    backup without a base. Entities that failed or were ignored are in neither list."""
    if row.base_backup_id is None:
        return None
    success = [o for o in outcomes if o.outcome == "success"]
    return {
        "base_backup_id": row.base_backup_id,
        "backup_type": row.backup_type,
        "changed": sorted(o.key for o in success if not o.unchanged),
        "unchanged": sorted(o.key for o in success if o.unchanged),
    }

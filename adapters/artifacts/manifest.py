"""The per-backup manifest, now a value of the artifact store port (domain.ports).

Kept as a module so the names callers import from here stay where they were.
"""

from domain.ports.artifact_values import Manifest, ManifestCorruptError, PurgeResult

__all__ = ["Manifest", "ManifestCorruptError", "PurgeResult"]

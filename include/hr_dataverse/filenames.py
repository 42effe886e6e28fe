"""Text as a portable file or folder name (standard library only: the Airflow UI plugin imports it)."""

from __future__ import annotations

import re

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def portable_name(text: str, limit: int = 150) -> str:
    """``text`` with every run of other characters than letters, digits, ``.``, ``_`` and ``-`` replaced
    by ``_``, without leading or trailing dots and underscores, at most ``limit`` characters; never empty.
    Airflow run ids hold ':' and '+' (``manual__2025-01-01T00:00:00+00:00``)."""
    return (_UNSAFE.sub("_", text).strip("._") or "_")[:limit]

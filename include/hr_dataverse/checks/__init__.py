"""Pre-flight checks that turn set-up mistakes into one line of cause and one line of fix."""

from __future__ import annotations

from .access_check import TableTarget, run_access_check, table_targets
from .report import CheckEntry, CheckReport, Status, is_transient
from .token_check import DEFAULT_SECRET_WARN_DAYS, run_token_check

__all__ = [
    "DEFAULT_SECRET_WARN_DAYS",
    "CheckEntry",
    "CheckReport",
    "Status",
    "TableTarget",
    "is_transient",
    "run_access_check",
    "run_token_check",
    "table_targets",
]

"""Short-read guard for full reloads: deletes are applied only on complete evidence.

A full reload soft-deletes the warehouse rows it did not see. When the read returned fewer rows than
the source counted just before it (a truncated page chain, a paging bug, rows hidden by a role), the
missing rows would wrongly be deleted, so the reload then keeps every row and warns. One small
function so the Dataverse sync's guard can share the same threshold setting later.
"""

from __future__ import annotations

DEFAULT_TOLERANCE = 0.0  # fraction of the source count a read may fall short of and still reconcile


def short_read(rows_read: int, source_count: int | None, tolerance: float = DEFAULT_TOLERANCE) -> str | None:
    """Why deletes must not be applied (None when the read is complete enough to reconcile).

    No count is no evidence: reconciliation is skipped then too.
    """
    if not 0 <= tolerance < 1:
        raise ValueError(f"the short-read tolerance must be a fraction in [0, 1), got {tolerance!r}")
    if source_count is None:
        return "the source could not be counted, so a complete read cannot be proven"
    if rows_read >= source_count * (1 - tolerance):
        return None
    return (f"read {rows_read} rows but the source counted {source_count} just before the read "
            f"({source_count - rows_read} missing, more than the {tolerance:.0%} tolerance)")

"""The protocol bound of a run: how fast any client could have been, given the server's time.

``bound_s = max(server time ÷ allowed concurrency, the longest change-tracking page chain)``. The
first term is the floor (``floor_s``): the latency model's server time spread over every slot. The
second holds because a change-tracked read cannot be split (Dataverse refuses ``$filter``/``$top``
with ``odata.track-changes``) and each page's ``$skiptoken`` comes with the page before: one entity
set's tracked pages are served one after another, so their summed server time is a chain no
concurrency shortens. The emulator reports that time per path (``tracked_latency_by_path``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Bound:
    floor_s: float
    chain_s: float
    chain_table: str | None  # the entity set of the longest chain, None when nothing was tracked

    @property
    def bound_s(self) -> float:
        return max(self.floor_s, self.chain_s)

    def fields(self, wall_s: float) -> dict[str, Any]:
        """The JSON-line fields: floor, longest chain, bound and wall / bound."""
        bound = self.bound_s
        return {"floor_s": round(self.floor_s, 2), "wall_over_floor": round(wall_s / self.floor_s, 2) if self.floor_s else None,
                "chain_s": round(self.chain_s, 2), "chain_table": self.chain_table,
                "bound_s": round(bound, 2), "wall_over_bound": round(wall_s / bound, 2) if bound else None}


def run_bound(before: dict[str, Any], after: dict[str, Any], concurrency: int) -> Bound:
    """The bound of the requests served between two ``/_emulator/requests`` answers."""
    latency = after["latency_seconds"] - before["latency_seconds"]
    earlier = before.get("tracked_latency_by_path", {})
    chains = {path: seconds - earlier.get(path, 0.0) for path, seconds in after.get("tracked_latency_by_path", {}).items()}
    chains = {path: seconds for path, seconds in chains.items() if seconds > 1e-9}
    longest = max(chains, key=chains.__getitem__, default=None)
    return Bound(floor_s=latency / concurrency, chain_s=chains.get(longest, 0.0) if longest else 0.0,
                 chain_table=longest.rsplit("/", 1)[-1] if longest else None)

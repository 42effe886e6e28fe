"""Admin endpoints under ``/_emulator/`` (loopback only): mutations, clock, faults, request log.

They let scripts and the ``mutate`` CLI drive a running emulator the way tests drive it in-process.

* ``POST /_emulator/bulk-changes`` ``{"tables": [...], "fraction": 0.01, "delete_share": 0.2, "seed": 1}``:
  changes ``fraction`` of each table's rows at random (the benchmark's "1% changed"): ``delete_share``
  of them deleted, the rest updated (primary name rewritten, version bumped). Answers the counts.
* ``GET /_emulator/requests``: counts of Dataverse requests so far, the rows they returned and
  ``latency_seconds``, the server time the latency model charged them (refused requests are not charged);
  ``tracked_latency_by_path``: that server time per path over change-tracking reads only. The pages
  of one tracked read can only be fetched one after another, so per entity set this is the length of
  its page chain (the benchmark's bound takes the longest).
"""

from __future__ import annotations

import random
from collections import Counter
from typing import TYPE_CHECKING, Any

from .http import BadJsonBody, Request, Response

if TYPE_CHECKING:
    from .app import Emulator


def _error(status: int, message: str) -> Response:
    return Response.json(status, {"error": {"code": "emulator", "message": message}})


def handle_admin(app: Emulator, req: Request) -> Response:
    route = (req.method, req.path.rstrip("/"))
    try:
        body: Any = req.json_body() if req.body else None
    except BadJsonBody as exc:
        return _error(400, f"Malformed JSON body: {exc}")
    if route == ("GET", "/_emulator/info"):
        return Response.json(200, app.info(), content_type="application/json")
    if route == ("POST", "/_emulator/mutations"):
        from .mutations import MutationError, apply

        specs = body if isinstance(body, list) else [body]
        try:
            results = [apply(app.store, spec) for spec in specs]
        except (MutationError, TypeError, KeyError, ValueError) as exc:
            return _error(400, str(exc))
        return Response.json(200, {"applied": results}, content_type="application/json")
    if route == ("POST", "/_emulator/clock"):
        if not isinstance(body, dict) or not isinstance(body.get("advance_seconds"), int | float):
            return _error(400, 'Body must be {"advance_seconds": <number>}')
        app.clock.advance(body["advance_seconds"])
        return Response.json(200, {"now": app.clock.now().isoformat()}, content_type="application/json")
    if route in (("POST", "/_emulator/faults"), ("POST", "/_emulator/token-faults")):
        faults = app.token_faults if route[1].endswith("token-faults") else app.faults
        if not isinstance(body, dict):
            return _error(400, 'Body must be a JSON object like {"status": 429, "count": 1}')
        allowed = {"status", "count", "retry_after", "path_contains", "kind", "method", "delay"}
        unknown = set(body) - allowed
        if unknown:
            return _error(400, f"Unknown fault option(s) {sorted(unknown)}; allowed: {sorted(allowed)}")
        try:
            faults.queue(**body)
        except (TypeError, ValueError) as exc:
            return _error(400, str(exc))
        return Response.empty(204)
    if route in (("DELETE", "/_emulator/faults"), ("DELETE", "/_emulator/token-faults")):
        (app.token_faults if route[1].endswith("token-faults") else app.faults).clear()
        return Response.empty(204)
    if route == ("GET", "/_emulator/requests"):
        entries = app.request_log.entries()
        by_status = Counter(str(e.status) for e in entries)
        by_method = Counter(e.method for e in entries)
        # Only requests that reached the Web API sleep the latency model: not the ones refused by
        # authentication (no app id) or by service protection (a 429 that is not an injected fault).
        served = [e for e in entries if e.app_id is not None and not (e.status == 429 and e.fault is None)]
        tracked: Counter[str] = Counter()
        for e in served:
            if e.tracked:
                tracked[e.path] += app.faults.latency(e.rows)
        return Response.json(
            200, {"total": len(entries), "by_status": by_status, "by_method": by_method,
                  "rows": sum(e.rows for e in entries),
                  "latency_seconds": round(sum(app.faults.latency(e.rows) for e in served), 6),
                  "tracked_latency_by_path": {path: round(s, 6) for path, s in tracked.items()}},
            content_type="application/json",
        )
    if route == ("POST", "/_emulator/bulk-changes"):
        try:
            return Response.json(200, bulk_changes(app, body), content_type="application/json")
        except ValueError as exc:
            return _error(400, str(exc))
    return _error(404, f"No admin route {req.method} {req.path}")


def bulk_changes(app: Emulator, body: Any) -> dict[str, Any]:
    """Update and delete a random ``fraction`` of each listed table's rows (see the module docstring).

    Per table ``round(fraction * rows)`` rows change (at least one when the table has rows), of which
    ``round(delete_share * n)`` are deleted. Raises ``ValueError`` naming the bad field.
    """
    if not isinstance(body, dict):
        raise ValueError('Body must be a JSON object like {"tables": ["cdm_worker"], "fraction": 0.01}')
    unknown = set(body) - {"tables", "fraction", "delete_share", "seed"}
    if unknown:
        raise ValueError(f"Unknown bulk-change option(s) {sorted(unknown)}; allowed: delete_share, fraction, seed, tables")
    tables, fraction = body.get("tables"), body.get("fraction")
    delete_share, seed = body.get("delete_share", 0.2), body.get("seed", 0)
    if not isinstance(tables, list) or not tables or not all(isinstance(t, str) for t in tables):
        raise ValueError('"tables" must be a non-empty list of table logical names')
    missing = [t for t in tables if t not in app.schema]
    if missing:
        raise ValueError(f"Unknown table(s) {missing}")
    for name, value in (("fraction", fraction), ("delete_share", delete_share)):
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
            raise ValueError(f'"{name}" must be a number between 0 and 1, got {value!r}')
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError(f'"seed" must be an integer, got {seed!r}')
    rng = random.Random(seed)
    store = app.store
    updated: dict[str, int] = {}
    deleted: dict[str, int] = {}
    with store.lock:  # one consistent change set: a concurrent delta read sees all of it or none
        for name in dict.fromkeys(tables):
            table = app.schema[name]
            ids = [row[table.primary_id] for row in store.iter_rows(name)]
            count = min(len(ids), max(1, round(fraction * len(ids)))) if ids and fraction else 0
            chosen = rng.sample(ids, count)
            n_delete = round(delete_share * count)
            for row_id in chosen[:n_delete]:
                store.delete(name, row_id)
            for n, row_id in enumerate(chosen[n_delete:]):
                store.update(name, row_id, {table.primary_name: f"Changed {seed}-{n}"})
            updated[name], deleted[name] = count - n_delete, n_delete
    return {"updated": updated, "deleted": deleted,
            "total": sum(updated.values()) + sum(deleted.values())}

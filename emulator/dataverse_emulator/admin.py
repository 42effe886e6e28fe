"""Admin endpoints under ``/_emulator/`` (loopback only): mutations, clock, faults, request log.

They let scripts and the ``mutate`` CLI drive a running emulator the way tests drive it in-process.
"""

from __future__ import annotations

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
    if route == ("POST", "/_emulator/faults"):
        if not isinstance(body, dict):
            return _error(400, 'Body must be a JSON object like {"status": 429, "count": 1}')
        allowed = {"status", "count", "retry_after", "path_contains", "kind", "method", "delay"}
        unknown = set(body) - allowed
        if unknown:
            return _error(400, f"Unknown fault option(s) {sorted(unknown)}; allowed: {sorted(allowed)}")
        try:
            app.faults.queue(**body)
        except (TypeError, ValueError) as exc:
            return _error(400, str(exc))
        return Response.empty(204)
    if route == ("DELETE", "/_emulator/faults"):
        app.faults.clear()
        return Response.empty(204)
    if route == ("GET", "/_emulator/requests"):
        entries = app.request_log.entries()
        by_status = Counter(str(e.status) for e in entries)
        by_method = Counter(e.method for e in entries)
        return Response.json(
            200, {"total": len(entries), "by_status": by_status, "by_method": by_method},
            content_type="application/json",
        )
    return _error(404, f"No admin route {req.method} {req.path}")

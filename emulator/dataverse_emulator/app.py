"""The emulator: state plus the request pipeline shared by the CLI and the pytest fixture."""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

from .clock import Clock
from .config import EmulatorConfig
from .faults import Fault, Faults
from .http import Request, Response, dataverse_error
from .protection import Protection


@dataclass
class LoggedRequest:
    method: str
    path: str
    query: str
    started: float  # time.monotonic()
    app_id: str | None = None
    status: int = 0
    finished: float = 0.0
    rows: int = 0
    fault: str | None = None
    tracked: bool = False  # a change-tracking read (initial page, next page or delta): one page chain per path


class RequestLog:
    """What reached the server, in arrival order (tests assert retry gaps and write counts)."""

    def __init__(self, maxlen: int = 200_000) -> None:
        self._entries: deque[LoggedRequest] = deque(maxlen=maxlen)
        self._lock = threading.Lock()

    def add(self, entry: LoggedRequest) -> None:
        with self._lock:
            self._entries.append(entry)

    def entries(self) -> list[LoggedRequest]:
        with self._lock:
            return list(self._entries)

    def __iter__(self):
        return iter(self.entries())

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


class Emulator:
    """Entra ID + Dataverse state. ``bind(base_url)`` completes it once the port is known."""

    def __init__(self, config: EmulatorConfig | None = None) -> None:
        from .datagen import generate
        from .schema import build_schema
        from .store import Store

        self.config = config or EmulatorConfig()
        self.clock = Clock()
        from .tenant import tailor

        full = build_schema(self.config)
        self.schema, rows = tailor(full, generate(self.config, full, self.clock), self.config)
        self.store = Store(self.schema, self.clock, self.config)
        self.store.load(rows)
        self.faults = Faults(self.config)
        self.token_faults = Faults(self.config, self.config.token_faults)
        self.protection = Protection(self.config.protection_profile, self.clock)
        self.request_log = RequestLog()
        self.base_url = ""
        self.entra: Any = None
        self.security: Any = None
        self.webapi: Any = None
        self.fno: Any = None  # finance and operations OData (fno.py)
        self.graph: Any = None

    @property
    def environment_url(self) -> str:
        return self.base_url

    def bind(self, base_url: str) -> None:
        from .entra import Entra
        from .schema import URS_TABLES
        from .security import Security
        from .webapi import WebApi

        self.base_url = base_url.rstrip("/")
        self.entra = Entra.with_defaults(self.config, self.clock, self.base_url)
        self.security = Security.with_defaults(
            self.entra, self.config, self.clock, self.base_url, list(self.schema), list(URS_TABLES)
        )
        self.webapi = WebApi(self)
        from .fno import FnoService

        self.entra.add_resource(self.config.tenant_id, self.base_url + self.config.fno_path)  # its own audience
        self.fno = FnoService(self)
        from .graph import Graph

        self.graph = Graph.with_defaults(self.entra, self.config)  # Microsoft Graph: the app's own credentials

    def info(self) -> dict[str, Any]:
        """The ready line: everything a client needs to connect."""
        host = self.base_url.split("://", 1)[1]
        return {
            "dataverse_url": self.base_url,
            "fno_url": self.base_url + self.config.fno_path,
            "api_url": f"{self.base_url}/api/data/{self.config.api_version}/",
            "authority": f"{self.base_url}/{self.config.tenant_id}",
            "authority_host": host,
            "tenant_id": self.config.tenant_id,
            "client_id": self.config.client_id,
            "client_secret": self.config.client_secret,
            "client_secret_id": self.config.client_secret_id,
            "ca_bundle": "",  # filled by the server, which owns the TLS files
            "scale": self.config.scale,
            "seed": self.config.seed,
            "protection_profile": self.config.protection_profile,
        }

    # -- request pipeline -------------------------------------------------------------------
    def handle(self, req: Request) -> tuple[Response, Fault | None]:
        """Route one request. Returns the response and a transport-level fault (reset/truncate)."""
        if req.path.startswith("/api/data/"):
            return self._dataverse(req)
        if req.path.startswith(self.config.fno_path + "/"):
            return self.fno.handle(req), None
        if req.path.startswith("/_emulator/"):
            from .admin import handle_admin

            return handle_admin(self, req), None
        from .entra_v1 import fault_response, is_token_endpoint

        if is_token_endpoint(req.path):
            fault = self.token_faults.pick(req.method, req.path)
            if fault is not None and fault.kind in {"reset", "truncate"}:
                return Response.empty(200), fault
            injected = fault_response(self.entra, req, fault) if fault is not None else None
            if injected is not None:
                return injected, None
        if req.path.startswith(("/v1.0/", "/beta/")):
            return self.graph.handle(req), None
        resp = self.entra.handle(req)
        if resp is None:
            resp = Response.json(404, {"error": "not_found", "error_description": f"No route for {req.path}"})
        return resp, None

    def _dataverse(self, req: Request) -> tuple[Response, Fault | None]:
        entry = LoggedRequest(req.method, req.path, req.raw_query, time.monotonic())
        self.request_log.add(entry)
        started = time.monotonic()
        fault: Fault | None = None
        principal = self.security.authenticate(req)
        if isinstance(principal, Response):
            resp = principal
        else:
            entry.app_id = principal.app_id
            resp = self.protection.enter(principal)
            if resp is None:
                try:
                    fault = self.faults.pick(req.method, req.path)
                    if fault is not None and fault.kind == "status":
                        resp = fault.response()
                    else:
                        resp = self._safe_webapi(req, principal)
                    # The model is the request's whole server time, the emulator's own work
                    # included: a 5,000-row page answers after 650 ms, not 650 ms + rendering.
                    # Only when the emulator is slower than the model (a busy CPU) is it late.
                    delay = self.faults.latency(resp.rows) + (fault.delay if fault else 0.0)
                    wait = delay - (time.monotonic() - started)
                    if wait > 0:
                        time.sleep(wait)
                finally:
                    self.protection.exit(principal, (time.monotonic() - started) * 1000)
            remaining = self.protection.remaining(principal)
            if remaining is not None:
                # The documented debug headers [PA-LIM]: requests left, and combined execution time left
                # in seconds written the way Dataverse writes it ("1,200.00").
                resp.headers.set("x-ms-ratelimit-burst-remaining-xrm-requests", str(remaining[0]))
                resp.headers.set("x-ms-ratelimit-time-remaining-xrm-requests", f"{remaining[1] / 1000:,.2f}")
        resp.headers.set("x-ms-dop-hint", str(self.config.dop_hint))
        resp.headers.set("x-ms-service-request-id", req.request_id)
        resp.headers.set("REQ_ID", req.request_id)
        if "OData-Version" not in resp.headers:
            resp.headers.set("OData-Version", "4.0")
        entry.status, entry.rows, entry.finished = resp.status, resp.rows, time.monotonic()
        entry.fault = fault.kind if fault else None
        if entry.app_id is not None and resp.status < 400:
            from .webapi_changes import is_change_tracking_request

            entry.tracked = is_change_tracking_request(req)
        return resp, (fault if fault is not None and fault.kind in {"reset", "truncate"} else None)

    def _safe_webapi(self, req: Request, principal: Any) -> Response:
        """Bad input never becomes a bare 500 with a stack trace."""
        try:
            return self.webapi.handle(req, principal)
        except Exception as exc:  # noqa: BLE001 - last-resort guard; the message names the failure
            return dataverse_error(
                500, "0x80040216", f"An unexpected error occurred: {type(exc).__name__}: {exc}"
            )

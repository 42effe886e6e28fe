"""Dataverse Web API entry point: version check, path parsing, dispatch by method and resource kind.

GETs go to the read handlers here (webapi_read, webapi_metadata, webapi_changes); POST/PATCH/PUT/DELETE
go to ``webapi_write.handle_write`` and ``$batch`` to ``batch.handle_batch`` (imported lazily so each
part loads on its own).
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from .http import Request, Response, dataverse_error
from .odata.errors import ODataError
from .odata.filter import FilterSettings
from .schema import TableDef
from .webapi_paths import ACTION_NAMESPACE, API_VERSIONS, Target, not_found_segment, parse_target

if TYPE_CHECKING:
    from .app import Emulator
    from .config import EmulatorConfig
    from .security import Principal

API_PREFIX = "/api/data/"
# UNCONFIRMED: Dataverse's status/body for a method a resource does not support; OData's 405 wording.
METHOD_NOT_ALLOWED = "0x80060888"
ROW_NOT_FOUND = "0x80040217"


class WebApi:
    """Holds what every handler needs (schema, store, security, config) and routes requests."""

    def __init__(self, app: Emulator) -> None:
        self.app = app
        self.config = app.config
        self.schema: dict[str, TableDef] = app.schema
        self.store = app.store
        self.security = app.security
        self.entity_sets: dict[str, TableDef] = {t.entity_set_name: t for t in self.schema.values()}
        # Delta token -> {(entity set, $select names)} it was handed out for (webapi_changes).
        self.delta_tokens: dict[str, set[tuple[str, frozenset[str]]]] = {}
        self.delta_tokens_lock = threading.Lock()
        self.filter_settings = FilterSettings(now=app.clock.now)
        self._record_counts_lock = threading.Lock()
        self._record_counts: dict[str, int] = {}
        self._record_counts_taken = app.clock.now()
        self.refresh_record_count_snapshot()

    def refresh_record_count_snapshot(self) -> None:
        """Retake the RetrieveTotalRecordCount snapshot now (tests; the clock retakes it when it is old)."""
        with self._record_counts_lock:
            self._record_counts = {name: self.store.count(name) for name in self.schema}
            self._record_counts_taken = self.app.clock.now()

    def record_count(self, logical_name: str) -> int:
        """Row count as RetrieveTotalRecordCount reports it: from a snapshot that is retaken once it is
        older than ``record_count_snapshot_max_age_seconds`` of emulator clock (0 = live count)."""
        max_age = self.config.record_count_snapshot_max_age_seconds
        if max_age <= 0:
            return self.store.count(logical_name)
        if (self.app.clock.now() - self._record_counts_taken).total_seconds() >= max_age:
            self.refresh_record_count_snapshot()
        return self._record_counts.get(logical_name, 0)

    # --- helpers shared by the read and write handlers ------------------------------------------

    @staticmethod
    def version_of(req: Request) -> str | None:
        """The API version segment of ``req.path`` (``v9.2``), or None if not a Web API path."""
        if not req.path.startswith(API_PREFIX):
            return None
        return req.path[len(API_PREFIX):].split("/", 1)[0]

    def root(self, req: Request) -> str:
        """Service root as the client addressed it, e.g. ``https://host:port/api/data/v9.2``."""
        return f"{req.scheme_host}{API_PREFIX}{self.version_of(req) or self.config.api_version}"

    def context(self, req: Request, fragment: str) -> str:
        """``@odata.context`` value: ``<root>/$metadata#<fragment>``."""
        return f"{self.root(req)}/$metadata#{fragment}"

    def table_for_set(self, entity_set: str) -> TableDef | None:
        return self.entity_sets.get(entity_set)

    def check_read(self, principal: Principal, table: TableDef, *, organization_level: bool = False
                   ) -> Response | None:
        """The 403 ``0x80040220`` when the principal cannot read ``table``; checked before any data."""
        return self.security.check_privilege(
            principal, table.logical_name, "read",
            object_type_code=table.object_type_code, organization_level=organization_level,
        )

    def primary_name(self, table_logical_name: str, row_id: str) -> str | None:
        """Primary name of a row (lookup FormattedValue); None when the target is not emulated."""
        table = self.schema.get(table_logical_name)
        if table is None:
            return None
        return self.store.value(table_logical_name, row_id, table.primary_name)

    def alternate_key(self, table: TableDef, alt_key: dict[str, Any]) -> dict[str, Any]:
        """URL alternate key (wire names, ``_x_value`` for lookup parts) -> {logical name: value}.
        Must name exactly one of the table's alternate keys, else 400 (UNCONFIRMED code; the text is
        the SDK's "The requested key attributes do not exist for the entity <name>")."""
        columns: dict[str, Any] = {}
        for wire, value in alt_key.items():
            attr = table.attribute_for_wire(wire)
            if attr is None:
                break
            columns[attr.logical_name] = value
        else:
            if any(set(key) == set(columns) for key in table.alternate_keys):
                return columns
        raise ODataError(f"The requested key attributes do not exist for the entity {table.logical_name}")

    def find_row(self, table: TableDef, target: Target) -> dict[str, Any] | None:
        """The row an entity target addresses (by GUID or alternate key), or None.
        Alternate-key strings match case-insensitively, as SQL Server's collation does."""
        if target.key is not None:
            return self.store.get(table.logical_name, target.key)
        wanted = {k: _key_normal(v) for k, v in self.alternate_key(table, target.alt_key or {}).items()}
        for row in self.store.iter_rows(table.logical_name):
            if all(_key_normal(row.get(k)) == v for k, v in wanted.items()):
                return dict(row)
        return None

    @staticmethod
    def row_not_found(table: TableDef, target: Target) -> Response:
        """404 ``0x80040217`` ``<entity> With Id = <guid> Does Not Exist``. [OBS-batch][PA-COND]
        For an alternate key the key text stands in for the id (UNCONFIRMED wording)."""
        ident = target.key or ",".join(f"{k}={v}" for k, v in (target.alt_key or {}).items())
        return dataverse_error(404, ROW_NOT_FOUND, f"{table.logical_name} With Id = {ident} Does Not Exist")

    # --- dispatch -------------------------------------------------------------------------------

    def handle(self, req: Request, principal: Principal) -> Response:
        """Dispatch, then shape the answer as the request's Accept/Prefer headers ask (webapi_format)."""
        from .webapi_format import metadata_level, shape

        try:
            metadata_level(req)  # an unacceptable odata.metadata is refused before anything runs
        except ODataError as exc:
            return exc.to_response()
        resp, target = self._route(req, principal)
        return shape(self, req, resp, target.table if target is not None else None)

    def _route(self, req: Request, principal: Principal) -> tuple[Response, Target | None]:
        version = self.version_of(req)
        if version not in API_VERSIONS:
            # UNCONFIRMED: Dataverse's answer for an unknown version; reported like an unknown segment.
            return not_found_segment(version or "data").to_response(), None
        rest = req.path[len(API_PREFIX) + len(version):]
        try:
            check_request_headers(req, self.config)
            target = parse_target(rest, self.entity_sets)
        except ODataError as exc:
            return exc.to_response(), None
        if target.kind == "batch":
            if req.method != "POST":
                return _method_not_allowed(req, "$batch"), None
            from .batch import handle_batch

            return handle_batch(self, req, principal), None
        if target.kind == "user_function" and req.method != "GET":  # a function, not an action
            return _method_not_allowed(req, f"{ACTION_NAMESPACE}{target.action}"), None
        if req.method == "GET":
            return self._get(req, principal, target), target
        if req.method in ("POST", "PATCH", "PUT", "DELETE"):
            from .webapi_write import handle_write

            return handle_write(self, req, principal, target), target
        return _method_not_allowed(req, rest.strip("/") or "/"), target

    def _get(self, req: Request, principal: Principal, target: Target) -> Response:
        from . import webapi_changes, webapi_metadata, webapi_read

        try:
            if target.kind == "service_document":
                return webapi_metadata.service_document(self, req)
            if target.kind == "metadata":
                return webapi_metadata.csdl(self, req)
            if target.kind == "entity_definitions":
                return webapi_metadata.entity_definitions(self, req, target)
            if target.kind == "sdk_message_filters":
                from .webapi_messages import sdk_message_filters

                return sdk_message_filters(self, req)
            if target.kind == "whoami":
                return webapi_read.whoami(self, req, principal)
            if target.kind == "user_function":
                from .webapi_privileges import retrieve_user_set_of_privileges_by_names

                return retrieve_user_set_of_privileges_by_names(self, req, principal, target)
            if target.kind == "retrieve_total_record_count":
                return webapi_read.retrieve_total_record_count(self, req, principal, target)
            if target.kind in ("collection", "count") and webapi_changes.is_change_tracking_request(req):
                return webapi_changes.handle(self, req, principal, target)
            if target.kind == "collection":
                return webapi_read.collection(self, req, principal, target)
            if target.kind == "count":
                return webapi_read.count(self, req, principal, target)
            if target.kind == "entity":
                return webapi_read.entity(self, req, principal, target)
        except ODataError as exc:
            return exc.to_response()
        # What remains (a bound action) only takes POST.
        return _method_not_allowed(req, f"{ACTION_NAMESPACE}{target.action}")


def check_request_headers(req: Request, config: EmulatorConfig) -> None:
    """``OData-Version``/``OData-MaxVersion`` must allow 4.0 and a body must be JSON. [PA-HDR]
    Statuses and wording are ODataLib's / ASP.NET's (UNCONFIRMED for Dataverse; statuses are settings)."""
    for header in ("OData-Version", "OData-MaxVersion"):
        value = (req.headers.get(header) or "").strip()
        if value and not _version_allows_4(value, exact=header == "OData-Version"):
            raise ODataError(
                f"The value '{value}' of the {header} HTTP header is invalid. Only '4.0' is supported "
                f"as value for the {header} header."
            )
    if req.method not in ("POST", "PATCH", "PUT") or not req.body or req.path.endswith("/$batch"):
        return
    content_type = (req.headers.get("Content-Type") or "").split(";")[0].strip().lower()
    if not content_type:
        raise ODataError(
            "A missing or empty content type header was found when trying to read a message. "
            "The content type header is required.",
            status=config.missing_content_type_status,
        )
    if content_type != "application/json":
        raise ODataError(
            f"The request entity's media type '{content_type}' is not supported for this resource.",
            status=config.wrong_content_type_status,
        )


def _version_allows_4(value: str, *, exact: bool) -> bool:
    try:
        number = float(value)
    except ValueError:
        return False
    return number == 4.0 if exact else number >= 4.0


def _method_not_allowed(req: Request, segment: str) -> Response:
    return dataverse_error(
        405, METHOD_NOT_ALLOWED, f"The HTTP method '{req.method}' is not supported for the segment '{segment}'."
    )



def _key_normal(value: Any) -> Any:
    """Comparable form of a key value: strings case-folded, a datetime's trailing Z dropped,
    numbers as floats."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int | float):
        return float(value)
    text = str(value).lower()
    return text[:-1] if text.endswith("z") and "t" in text else text

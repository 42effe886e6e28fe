"""Finance and operations OData (``/data``) for the HR data Dataverse does not surface.

Served under ``config.fno_path`` of the emulator's host (``https://127.0.0.1:<port>/fno``): that URL is
the F&O environment URL and the token audience, so a Dataverse token is refused here and an F&O
token by Dataverse. Facts: shared/reference/hr-coverage.md §6.

* Entity: worker benefit enrollments (Benefits management), collection ``config.fno_benefit_collection``
  (``BenefitsPlanEmployeesV2``: a third-party name [R18], hence a setting), key PersonnelNumber,
  PlanPeriodId, PlanId, CoverageOptionId, ValidFrom, ValidTo, plus dataAreaId; rows built once from
  the Dataverse workers and employments (the worker's company, plans from the benefit set-up).
* ``$metadata`` (CSDL with the key and an enum type), ``<Collection>``, ``<Collection>/$count``.
* Company: the default company (``config.fno_default_company``) only, unless ``cross-company=true``.
* Paging: at most ``config.fno_page_size`` (10,000) rows a page, ``@odata.nextLink`` with ``$skip``;
  ``config.fno_truncate_after_pages`` ends the chain early (a short read: the count still says all).
* Throttling: every ``config.fno_throttle_every``-th data request gets 429 with Retry-After.
* Errors in F&O's shape ``{"error":{"code":"","message":"An error has occurred.","innererror":{…}}}``;
  401 without a body (and a ``WWW-Authenticate`` challenge) for a missing, foreign or unregistered token.
  Query options the emulator does not implement ($filter, $orderby, $expand, $apply, …) are refused
  with 501 rather than ignored.
"""

from __future__ import annotations

import base64
import random
import threading
import zlib
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from .http import Request, Response
from .tokens import TokenRejected, resource_aliases

if TYPE_CHECKING:
    from .app import Emulator

NAMESPACE = "Microsoft.Dynamics.DataEntities"
STATUS_ENUM = "BenefitEmployeePlanStatus"  # None, Selected, Waived [C R18 labels]
# (name, Edm type, nullable)
PROPERTIES = [
    ("dataAreaId", "Edm.String", False), ("PersonnelNumber", "Edm.String", False),
    ("PlanPeriodId", "Edm.String", False), ("PlanId", "Edm.String", False),
    ("CoverageOptionId", "Edm.String", False), ("ValidFrom", "Edm.DateTimeOffset", False),
    ("ValidTo", "Edm.DateTimeOffset", False), ("LegalEntityId", "Edm.String", True),
    ("PlanTypeId", "Edm.String", True), ("Status", f"{NAMESPACE}.{STATUS_ENUM}", False),
    ("CoverageStartDateTime", "Edm.DateTimeOffset", True), ("CoverageEndDateTime", "Edm.DateTimeOffset", True),
    ("AmountEmployee", "Edm.Decimal", True), ("AmountEmployer", "Edm.Decimal", True),
]
KEY = ("PersonnelNumber", "PlanPeriodId", "PlanId", "CoverageOptionId", "ValidFrom", "ValidTo")
MAX_DATE = "2154-12-31T23:59:59Z"  # F&O's "never" for valid-to dates
PLANS = [("MED-PPO", "MEDICAL", 0.55, 180.0, 520.0), ("MED-HMO", "MEDICAL", 0.30, 120.0, 430.0),
         ("DEN-BASIC", "DENTAL", 0.70, 18.0, 32.0), ("VIS-STD", "VISION", 0.40, 6.0, 9.0),
         ("401K", "RETIRE", 0.60, 0.0, 0.0), ("LIFE-2X", "LIFE", 0.50, 4.0, 12.0)]
OPTIONS = ["EE", "EE+SP", "FAMILY"]
UNSUPPORTED = ("$filter", "$orderby", "$expand", "$apply", "$search", "$compute", "$format")


def fno_error(status: int, message: str, kind: str = "System.InvalidOperationException",
              headers: dict[str, str] | None = None) -> Response:
    body = {"error": {"code": "", "message": "An error has occurred.",
                      "innererror": {"message": message, "type": kind, "stacktrace": ""}}}
    return Response.json(status, body, headers, content_type="application/json; odata.metadata=minimal")


class FnoService:
    def __init__(self, emulator: Emulator) -> None:
        self.app = emulator
        self.config = emulator.config
        self.collection = self.config.fno_benefit_collection
        self.registered_apps = {self.config.client_id.lower()}  # System administration > Entra applications
        self._rows: list[dict[str, Any]] | None = None
        self._lock = threading.Lock()
        self._data_requests = 0

    @property
    def root(self) -> str:
        return self.app.base_url + self.config.fno_path

    # --- data ----------------------------------------------------------------------------------

    def rows(self) -> list[dict[str, Any]]:
        """The enrollments (built on first use from the current workers and employments)."""
        with self._lock:
            if self._rows is None:
                self._rows = self._build()
            return self._rows

    def _build(self) -> list[dict[str, Any]]:
        store, rng = self.app.store, random.Random(self.config.seed * 31 + 7)
        companies = {r["cdm_companyid"]: r["cdm_companycode"] for r in store.iter_rows("cdm_company")}
        numbers = {r["cdm_workerid"]: r["cdm_workernumber"] for r in store.iter_rows("cdm_worker")}
        latest: dict[str, dict] = {}
        for employment in store.iter_rows("cdm_employment"):
            seen = latest.get(employment["cdm_workerid"])
            if seen is None or str(employment["cdm_validfrom"]) > str(seen["cdm_validfrom"]):
                latest[employment["cdm_workerid"]] = employment
        year = self.app.clock.now().year
        out: list[dict[str, Any]] = []
        for worker_id in sorted(latest, key=lambda w: numbers.get(w, "")):
            employment = latest[worker_id]
            if employment.get("cdm_validto") or worker_id not in numbers:
                continue  # terminated workers have no open enrollments
            company = companies[employment["cdm_companyid"]]
            for plan, plan_type, share, employee, employer in PLANS:
                if rng.random() >= share:
                    continue
                waived = rng.random() < 0.08
                option = "EE" if waived else OPTIONS[int(rng.random() * len(OPTIONS))]
                factor = 1 + OPTIONS.index(option) * 0.8
                start = f"{year}-01-01T00:00:00Z"
                out.append({
                    "dataAreaId": company.lower(), "PersonnelNumber": numbers[worker_id], "PlanPeriodId": str(year),
                    "PlanId": plan, "CoverageOptionId": option, "ValidFrom": start, "ValidTo": MAX_DATE,
                    "LegalEntityId": company, "PlanTypeId": plan_type, "Status": "Waived" if waived else "Selected",
                    "CoverageStartDateTime": start, "CoverageEndDateTime": f"{year}-12-31T23:59:59Z",
                    "AmountEmployee": 0.0 if waived else round(employee * factor, 2),
                    "AmountEmployer": 0.0 if waived else round(employer * factor, 2),
                })
        return out

    # --- HTTP ----------------------------------------------------------------------------------

    def handle(self, req: Request) -> Response:
        denied = self._authenticate(req)
        if denied is not None:
            return denied
        path = req.path[len(self.config.fno_path):]
        if req.method != "GET":
            return fno_error(405, f"The emulator serves F&O reads only, not {req.method}.")
        if path == "/data/$metadata":
            return Response.text(200, self.csdl(), content_type="application/xml")
        if not path.startswith("/data/"):
            return fno_error(404, f"No HTTP resource was found that matches the request URI '{req.path}'.",
                             "Microsoft.OData.UriParser.ODataUnrecognizedPathException")
        segment = path[len("/data/"):]
        name, _, rest = segment.partition("/")
        if name != self.collection:
            return fno_error(404, f"Resource not found for the segment '{name}'.",
                             "Microsoft.OData.UriParser.ODataUnrecognizedPathException")
        with self._lock:
            self._data_requests += 1
            throttled = self.config.fno_throttle_every and self._data_requests % self.config.fno_throttle_every == 0
        if throttled:
            return fno_error(429, "The request was throttled: too many requests for this priority.",
                             headers={"Retry-After": str(self.config.fno_retry_after_seconds)})
        query = req.query
        unsupported = [o for o in UNSUPPORTED if o in query]
        if unsupported:
            return fno_error(501, f"The emulator does not implement the query option {unsupported[0]} on F&O "
                                  "OData; it refuses it rather than ignoring it.", "System.NotImplementedException")
        rows = self.rows()
        if query.get("cross-company", "").lower() != "true":
            rows = [r for r in rows if r["dataAreaId"] == self.config.fno_default_company.lower()]
        if rest == "$count":
            return Response.text(200, str(len(rows)))
        if rest:
            return fno_error(404, f"Resource not found for the segment '{rest}'.",
                             "Microsoft.OData.UriParser.ODataUnrecognizedPathException")
        return self._page(req, rows)

    def _page(self, req: Request, rows: list[dict[str, Any]]) -> Response:
        query = req.query
        names = [p[0] for p in PROPERTIES]
        select = [s.strip() for s in query["$select"].split(",")] if query.get("$select") else names
        for name in select:
            if name not in names:
                return fno_error(400, f"Could not find a property named '{name}' on type "
                                      f"'{NAMESPACE}.{self.collection[:-1]}'.", "Microsoft.OData.ODataException")
        try:
            skip = int(query.get("$skip", "0"))
            top = int(query["$top"]) if "$top" in query else None
        except ValueError:
            return fno_error(400, "Invalid value for $skip or $top.", "Microsoft.OData.ODataException")
        end = len(rows) if top is None else min(len(rows), skip + top)
        size = self.config.fno_page_size
        page = rows[skip:min(end, skip + size)]
        body: dict[str, Any] = {"@odata.context": f"{self.root}/data/$metadata#{self.collection}", "value": [
            {"@odata.etag": _etag(r), **{k: r[k] for k in select}} for r in page]}
        if query.get("$count", "").lower() == "true":
            body["@odata.count"] = len(rows)
        nxt = skip + len(page)
        page_number = skip // size + 1
        cut = self.config.fno_truncate_after_pages
        if nxt < end and not (cut and page_number >= cut):
            params = {k: v for k, v in query.items() if k != "$skip"}
            params["$skip"] = str(nxt)
            if top is not None:
                params["$top"] = str(end - nxt)  # what is left of the client's $top
            body["@odata.nextLink"] = f"{self.root}/data/{self.collection}?{urlencode(params, safe='$,')}"
        resp = Response.json(200, body)
        resp.rows = len(page)
        return resp

    def _authenticate(self, req: Request) -> Response | None:
        challenge = {"WWW-Authenticate": f'Bearer authorization_uri="{self.app.base_url}/{self.config.tenant_id}'
                                         '/oauth2/authorize"'}
        scheme, _, token = (req.headers.get("Authorization") or "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            return Response(401, headers=_headers(challenge))
        try:
            claims = self.app.entra.verify_access_token(token, audience_candidates=sorted(resource_aliases(self.root)))
        except TokenRejected:
            return Response(401, headers=_headers(challenge))
        app_id = str(claims.get("appid") or claims.get("azp") or "").lower()
        if str(claims.get("tid", "")).lower() != self.config.tenant_id.lower() or app_id not in self.registered_apps:
            return Response(401, headers=_headers(challenge))  # F&O: app not in Microsoft Entra applications
        return None

    def csdl(self) -> str:
        not_null = ' Nullable="false"'
        props = "".join(f'<Property Name="{n}" Type="{t}"{"" if nullable else not_null}/>'
                        for n, t, nullable in PROPERTIES)
        keys = "".join(f'<PropertyRef Name="{k}"/>' for k in ("dataAreaId", *KEY))
        members = "".join(f'<Member Name="{m}" Value="{i}"/>' for i, m in enumerate(("None", "Selected", "Waived")))
        type_name = self.collection[:-1] if self.collection.endswith("s") else self.collection
        return ('<?xml version="1.0" encoding="utf-8"?>'
                '<edmx:Edmx Version="4.0" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx"><edmx:DataServices>'
                f'<Schema Namespace="{NAMESPACE}" xmlns="http://docs.oasis-open.org/odata/ns/edm">'
                f'<EnumType Name="{STATUS_ENUM}">{members}</EnumType>'
                f'<EntityType Name="{type_name}"><Key>{keys}</Key>{props}</EntityType>'
                f'<EntityContainer Name="Resources"><EntitySet Name="{self.collection}" '
                f'EntityType="{NAMESPACE}.{type_name}"/></EntityContainer>'
                '</Schema></edmx:DataServices></edmx:Edmx>')


def _etag(row: dict[str, Any]) -> str:
    version = zlib.crc32("|".join(str(row[k]) for k in KEY).encode())
    return 'W/"' + base64.b64encode(f"1,{version}".encode()).decode() + '"'


def _headers(values: dict[str, str]) -> Any:
    from .http import Headers

    return Headers(values)

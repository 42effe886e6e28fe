"""Find URS rows that already exist in Dataverse, so the mapping adopts them instead of duplicating.

Asked only for desired rows the mapping state does not know (the first run, new HR rows), and only
reads. Matching (no alternate keys are documented for these tables [U], so natural keys are used):

* ``ratingmodel`` by name (case-insensitive);
* ``ratingvalue`` by rating model and value (a value is unique per model in URS), looked up only in
  models the mapping adopted;
* ``characteristic`` by name (case-insensitive) and type;
* ``bookableresource`` by the Worker lookup (``worker_column``) — the documented way a resource
  is tied to an HR worker; with several, an active one wins;
* ``bookableresourcecharacteristic`` by resource and characteristic, looked up only on resources
  the mapping adopted (rows on resources it created can only be its own).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator
from typing import Any

from ..dataverse import DataverseClient, DataverseError, iter_pages
from ..dataverse.odata import Filter, eq, ne, or_
from .errors import MappingError
from .plan import Candidate, ExistingRow, bind_path
from .rules import (
    CHARACTERISTIC,
    NAV_CHARACTERISTIC,
    NAV_RATING_MODEL,
    NAV_RATING_VALUE,
    NAV_RESOURCE,
    RATINGMODEL,
    RATINGVALUE,
    RESOURCE,
    RESOURCE_CHARACTERISTIC,
)
from .settings import MappingSettings

_OR_TERMS = 25  # ids per "a eq x or a eq y …" filter: keeps the URL short


class ExistingRows:
    """``ExistingLookup`` backed by Dataverse reads (through the same client, so throttling applies)."""

    def __init__(self, client: DataverseClient, settings: MappingSettings) -> None:
        self.client = client
        self.settings = settings
        self.worker_value = f"_{settings.worker_column}_value"

    def __call__(self, table: str, candidates: list[Candidate]) -> dict[str, ExistingRow]:
        try:
            return self._find(table, candidates)
        except DataverseError as exc:
            hint = f" (is worker_column '{self.settings.worker_column}' right?)" if table == RESOURCE.logical_name else ""
            raise MappingError(f"reading existing {table} rows from Dataverse failed: {exc}{hint}") from exc

    def _find(self, table: str, candidates: list[Candidate]) -> dict[str, ExistingRow]:
        if table == RATINGMODEL.logical_name:
            rows = self._read(RATINGMODEL.entity_set, ["ratingmodelid", "name", "minratingvalue", "maxratingvalue",
                                                       "statecode"])
            by_name = _first_active(rows, lambda r: (r.get("name") or "").lower())
            return _match(candidates, lambda c: c.row.fields["name"].lower(), by_name, "ratingmodelid", lambda r: {
                "name": r.get("name"), "minratingvalue": r.get("minratingvalue"),
                "maxratingvalue": r.get("maxratingvalue")})
        if table == RATINGVALUE.logical_name:
            candidates = [c for c in candidates if c.refs[NAV_RATING_MODEL][1] == "adopted"]
            models = {c.refs[NAV_RATING_MODEL][0] for c in candidates}
            if not models:
                return {}
            rows = self._read_where(RATINGVALUE.entity_set, ["ratingvalueid", "name", "value", "_ratingmodel_value",
                                                             "statecode"], "_ratingmodel_value", models)
            by_value = _first_active(rows, lambda r: (r.get("_ratingmodel_value"), r.get("value")))
            return _match(candidates, lambda c: (c.refs[NAV_RATING_MODEL][0], c.row.fields["value"]), by_value,
                          "ratingvalueid", lambda r: {
                              "name": r.get("name"), "value": r.get("value"),
                              f"{NAV_RATING_MODEL}@odata.bind": bind_path(RATINGMODEL.logical_name,
                                                                          r["_ratingmodel_value"])})
        if table == CHARACTERISTIC.logical_name:
            rows = self._read(CHARACTERISTIC.entity_set, ["characteristicid", "name", "characteristictype",
                                                          "description", "statecode"])
            by_name = _first_active(rows, lambda r: ((r.get("name") or "").lower(), r.get("characteristictype")))
            return _match(candidates, lambda c: (c.row.fields["name"].lower(), c.row.fields["characteristictype"]),
                          by_name, "characteristicid", lambda r: {
                              "name": r.get("name"), "characteristictype": r.get("characteristictype"),
                              "description": r.get("description")})
        if table == RESOURCE.logical_name:
            rows = self._read(RESOURCE.entity_set, ["bookableresourceid", "name", "statecode", self.worker_value],
                              ne(self.worker_value, None))
            by_worker = _first_active(rows, lambda r: r.get(self.worker_value))
            return _match(candidates, lambda c: c.row.key, by_worker, "bookableresourceid",
                          lambda r: {"name": r.get("name")})
        if table == RESOURCE_CHARACTERISTIC.logical_name:
            return self._links(candidates)
        return {}

    def _links(self, candidates: list[Candidate]) -> dict[str, ExistingRow]:
        wanted = [c for c in candidates if c.refs[NAV_RESOURCE][1] == "adopted"]
        if not wanted:
            return {}
        rows = self._read_where(RESOURCE_CHARACTERISTIC.entity_set, [
            "bookableresourcecharacteristicid", "_resource_value", "_characteristic_value", "_ratingvalue_value",
            "statecode"], "_resource_value", {c.refs[NAV_RESOURCE][0] for c in wanted})
        by_pair = _first_active(rows, lambda r: (r.get("_resource_value"), r.get("_characteristic_value")))

        def body(r: dict[str, Any]) -> dict[str, Any]:
            out = {f"{NAV_RESOURCE}@odata.bind": bind_path(RESOURCE.logical_name, r["_resource_value"]),
                   f"{NAV_CHARACTERISTIC}@odata.bind": bind_path(CHARACTERISTIC.logical_name,
                                                                 r["_characteristic_value"])}
            if r.get("_ratingvalue_value"):
                out[f"{NAV_RATING_VALUE}@odata.bind"] = bind_path(RATINGVALUE.logical_name, r["_ratingvalue_value"])
            return out

        return _match(wanted, lambda c: (c.refs[NAV_RESOURCE][0], c.refs[NAV_CHARACTERISTIC][0]), by_pair,
                      "bookableresourcecharacteristicid", body)

    def _read(self, entity_set: str, select: list[str], where: Filter | None = None) -> list[dict[str, Any]]:
        return [_lower_ids(row) for page in iter_pages(self.client, entity_set, select=select, filter=where)
                for row in page.rows]

    def _read_where(self, entity_set: str, select: list[str], column: str, ids: Iterable[str]
                    ) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for chunk in _chunks(sorted(ids), _OR_TERMS):
            out += self._read(entity_set, select, or_(*(eq(column, uuid.UUID(i)) for i in chunk)))
        return out


def _lower_ids(row: dict[str, Any]) -> dict[str, Any]:
    """GUIDs compared as strings must agree in case: Dataverse returns lower case, be sure of it."""
    return {k: v.lower() if isinstance(v, str) and (k.endswith("_value") or k.endswith("id")) else v
            for k, v in row.items()}


def _first_active(rows: list[dict[str, Any]], key: Any) -> dict[Any, dict[str, Any]]:
    """One row per natural key: an active one if there is one, else the first."""
    out: dict[Any, dict[str, Any]] = {}
    for row in sorted(rows, key=lambda r: r.get("statecode") or 0):
        out.setdefault(key(row), row)
    return out


def _match(candidates: list[Candidate], key: Any, found: dict[Any, dict[str, Any]], primary_id: str,
           body: Any) -> dict[str, ExistingRow]:
    out: dict[str, ExistingRow] = {}
    for cand in candidates:
        row = found.get(key(cand))
        if row is not None:
            out[cand.row.key] = ExistingRow(row[primary_id], body(row), (row.get("statecode") or 0) == 0)
    return out


def _chunks(values: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(values), size):
        yield values[start:start + size]

"""Full reload of one F&O data entity into the warehouse (F&O OData has no change tracking here).

Every run: read the entity's shape from ``$metadata`` (columns typed from it, the natural key from
``fno_keys`` or the entity key), count the collection, read every page across companies into a
staging table, then in one transaction upsert what was read and — only when the short-read guard
(``guard.short_read``) finds the read complete and the Dataverse loads' delete guard
(``sync.delete_guard``: the mass-delete threshold, ``allow_mass_delete``) lets them through —
soft-delete the rows it did not see. A short read keeps every row and reports ``deletes_held``
(the Airflow task then fails, as for a Dataverse table). Rows are staged page by page; memory holds
one page.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from ..catalog import FNO_KEY_COLUMN, TableSpec
from ..sync.counts import EXACT, UNAVAILABLE, SourceCount
from ..sync.delete_guard import DeleteEvidence, DeleteGuardSettings, DeleteHold, HoldCause, judge
from ..sync.result import TableSyncResult
from ..vocabulary import LoadMode, RunStatus
from ..warehouse import ColumnSpec, RequestCounts, RunStats
from ..warehouse.table_rules import TableRules, save_table_rules
from .client import FnoClient, FnoError
from .entity import FnoEntity, FnoProperty, natural_key, parse_entity
from .guard import DEFAULT_TOLERANCE, short_read

if TYPE_CHECKING:
    from ..warehouse import Warehouse

MODE = LoadMode.FULL_EVERY_RUN
_log = logging.getLogger(__name__)


def selected_properties(spec: TableSpec, entity: FnoEntity) -> tuple[list[FnoProperty], tuple[str, ...]]:
    """(properties to land, key properties); ``FnoError`` naming unknown catalog names."""
    keys = spec.fno_keys or entity.keys
    if not keys:
        raise FnoError(f"table '{spec.name}': F&O entity {entity.collection} has no key in $metadata; list its "
                       "natural key in the catalog as fno_keys")
    wanted = list(spec.columns) or list(entity.properties)
    unknown = [n for n in [*wanted, *keys, *spec.exclude_columns] if n not in entity.properties]
    if unknown:
        raise FnoError(f"table '{spec.name}': F&O entity {entity.collection} has no propert"
                       f"{'y' if len(unknown) == 1 else 'ies'} {', '.join(unknown)} (names are case-sensitive; "
                       f"it has: {', '.join(entity.properties)})")
    excluded = set(spec.exclude_columns) - set(keys)
    chosen = [n for n in dict.fromkeys([*keys, *wanted]) if n not in excluded]
    return [entity.properties[n] for n in chosen], tuple(keys)


def sync_fno_entity(client: FnoClient, warehouse: Warehouse, spec: TableSpec, *, run_id: str,
                    tolerance: float = DEFAULT_TOLERANCE, guard: DeleteGuardSettings | None = None,
                    log: logging.Logger = _log) -> TableSyncResult:
    """Reload ``spec`` (a catalog entry with ``fno_entity``) in full; see the module docstring."""
    if not spec.fno_entity:
        raise ValueError(f"table '{spec.name}' is not an F&O entity (no fno_entity in the catalog)")
    started, requests_before, throttled_before = time.monotonic(), client.requests, client.throttled
    entity = parse_entity(client.metadata(), spec.fno_entity)
    properties, keys = selected_properties(spec, entity)
    columns = [ColumnSpec(FNO_KEY_COLUMN, "String")] + [
        ColumnSpec(p.column, p.attribute_type, date_only=p.edm_type == "Edm.Date") for p in properties]
    key_columns = tuple(entity.properties[k].column for k in keys)
    stored = replace(spec, primary_key=FNO_KEY_COLUMN, columns=tuple(c.name for c in columns),
                     required_columns=(FNO_KEY_COLUMN, *key_columns))
    drift = warehouse.ensure_table(stored, columns)
    save_table_rules(warehouse, spec.name, TableRules.of(stored, keys=(key_columns,)))
    warnings = list(drift.warnings)
    if entity.skipped:
        warnings.append(f"table '{spec.name}': F&O properties not landed (complex or unknown types): "
                        f"{', '.join(entity.skipped)}")
    expected = client.count(spec.fno_entity)
    pages = read = 0
    with warehouse.begin_load(spec.name, run_id, MODE) as load:
        for page in client.pages(spec.fno_entity, [p.name for p in properties]):
            pages += 1
            read += load.stage_rows(_rows(page.rows, properties, keys))  # one page in memory at a time
        why = short_read(read, expected, tolerance)
        count = SourceCount(expected, EXACT if expected is not None else UNAVAILABLE)
        holds: list[DeleteHold] = []

        def check_deletes(staged: int, live: int, would_delete: int) -> str | None:
            hold = judge(spec.name, DeleteEvidence(staged, live, would_delete), count, guard or DeleteGuardSettings())
            holds.extend([hold] if hold else [])
            return hold.message if hold else None

        if why is not None:
            warnings.append(f"table '{spec.name}': no rows were marked deleted: {why}")
            holds.append(DeleteHold(HoldCause.SHORT_READ, read, 0, 0, 0, expected, count.method,
                                    f"table '{spec.name}': NO rows were soft-deleted: {why}"))
        message = "; ".join(warnings) or None
        done = load.commit(source_count=expected, reconcile_deletes=why is None,
                           status=RunStatus.WARNING if warnings else RunStatus.SUCCESS,
                           stats=RunStats(pages=pages, counts=RequestCounts(requests=client.requests - requests_before),
                                          message=message), delete_check=check_deletes if why is None else None)
    if done.deletes_held and holds:
        warnings.append(holds[-1].message)
    for warning in warnings:
        log.warning("%s", warning)
    log.info("table %s: F&O %s reloaded: %d rows read in %d pages across companies, %d upserted, %d deleted, "
             "%d live", spec.name, spec.fno_entity, read, pages, done.rows_upserted, done.rows_deleted, done.rows_total)
    return TableSyncResult(
        table=spec.name, mode_used=MODE, reason=f"F&O OData entity {spec.fno_entity}: full reload every run",
        rows_upserted=done.rows_upserted, rows_deleted=done.rows_deleted, pages=pages,
        requests=client.requests - requests_before, throttled=client.throttled - throttled_before,
        seconds=round(time.monotonic() - started, 3), warnings=warnings, source_count=expected,
        source_count_method="$count", rows_total=done.rows_total, status=RunStatus.WARNING if warnings else RunStatus.SUCCESS,
        deletes_held=holds[-1].to_dict() if holds else None)


def _rows(rows: list[dict[str, Any]], properties: list[FnoProperty], keys: tuple[str, ...]) -> Iterator[dict[str, Any]]:
    for row in rows:
        out = {p.column: row.get(p.name) for p in properties}
        out[FNO_KEY_COLUMN] = natural_key(row, keys)
        yield out

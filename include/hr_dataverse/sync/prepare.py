"""Per-run table preparation: read the metadata, validate the catalog's columns, follow schema drift.

Runs on every sync, before any data is read:

* a catalog column the metadata does not have and the warehouse never held is a catalog error
  (``UnknownColumnError`` naming table and columns); a required column that disappeared is a
  ``SchemaDriftError`` (from ``columns_for``);
* a column the warehouse holds but the source no longer has is kept, left out of ``$select`` and
  reported as a warning (``ensure_table``);
* a new column is added to the warehouse table; an incompatible type change raises
  ``SchemaDriftError`` naming the column, which fails this table only.

A catalog entry without ``columns`` takes its columns, required columns, lookups and option sets
from this metadata (``hr_dataverse.catalog_metadata``); the rules it derived are stored for the
data-quality checks (``hr_dataverse.warehouse.table_rules``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..catalog_metadata import resolve_spec
from ..dataverse import EntityInfo, get_entity
from ..dataverse.metadata import entity_from_payload
from ..warehouse import ColumnSelection, DriftReport, SyncState, columns_for
from ..warehouse.table_rules import TableRules, save_table_rules
from .errors import UnknownColumnError

if TYPE_CHECKING:
    from ..catalog import TableSpec
    from ..dataverse import DataverseClient
    from ..warehouse import Warehouse
    from .metadata_cache import RunMetadata


@dataclass(frozen=True)
class PreparedTable:
    entity: EntityInfo
    entity_set: str
    selection: ColumnSelection
    drift: DriftReport
    state: SyncState | None  # as it was before this run

    @property
    def select(self) -> list[str]:
        return self.selection.select


def prepare_table(client: DataverseClient, warehouse: Warehouse, spec: TableSpec,
                  metadata: RunMetadata | None = None) -> PreparedTable:
    """``metadata``: the run's metadata read for all its tables at once (``metadata_cache.py``);
    without it, or when it lacks this table, the table's own metadata is read."""
    # Labels only for the catalog's option sets, fetched only if a row lacks its FormattedValue.
    # An entry without columns takes them from metadata, its lookup targets included (references).
    options = {"option_columns": None if spec.from_metadata else spec.option_sets,
               "lookup_targets": spec.from_metadata, "lazy_options": True}
    payload = metadata.payload(spec.name) if metadata is not None else None
    entity = entity_from_payload(client, payload, **options) if payload else get_entity(client, spec.name, **options)
    metadata_driven = spec.from_metadata
    spec = resolve_spec(spec, entity)
    selection = columns_for(spec, entity)
    state = warehouse.get_state(spec.name)
    known = set(((state.schema_columns or {}).get("columns") or {}) if state else {})
    unknown = [c for c in selection.missing if c not in known]
    if unknown:
        raise UnknownColumnError(spec.name, unknown)
    drift = warehouse.ensure_table(spec, selection.columns)
    if metadata_driven:
        save_table_rules(warehouse, spec.name, TableRules.of(spec))
    return PreparedTable(entity, spec.entity_set or entity.entity_set_name, selection, drift, state)

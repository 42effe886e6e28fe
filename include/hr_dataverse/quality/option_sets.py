"""Known option-set values per choice column, for the ``option_domain`` checks.

``fetch_option_domains`` reads them from Dataverse metadata (one ``EntityDefinitions`` request per
table with choice columns); ``save_option_domains`` keeps them next to the reports
(``<root>/option_sets.json``) so a quality run without a Dataverse connection still knows them;
``load_option_domains`` reads that file (``None`` when absent: the checks fall back to labels).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from ..catalog import TableSpec

if TYPE_CHECKING:
    from ..dataverse import DataverseClient

OPTION_SETS_FILE = "option_sets.json"
Domains = dict[str, dict[str, list[int]]]
_log = logging.getLogger(__name__)


def fetch_option_domains(client: DataverseClient, specs: Iterable[TableSpec]) -> Domains:
    """table -> column -> option values, for every catalog ``option_sets`` column Dataverse describes
    with options (Picklist/State/Status; two-option booleans are stored as booleans and skipped)."""
    from ..dataverse import get_entity

    domains: Domains = {}
    for spec in specs:
        if not spec.option_sets:
            continue
        entity = get_entity(client, spec.name)
        for column in spec.option_sets:
            attribute = entity.attributes.get(column)
            if attribute is not None and attribute.options:
                domains.setdefault(spec.name, {})[column] = sorted(attribute.options)
    return domains


def save_option_domains(root: Path, domains: Mapping[str, Mapping[str, Sequence[int]]]) -> Path:
    path = root / OPTION_SETS_FILE
    root.mkdir(parents=True, exist_ok=True)
    body = {"fetched_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "tables": {t: {c: sorted(int(v) for v in vs) for c, vs in cols.items()} for t, cols in domains.items()}}
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(body, indent=2, sort_keys=True), encoding="utf-8")
    tmp.replace(path)
    return path


def load_option_domains(root: Path) -> Domains | None:
    """The saved domains, or None when never saved. A damaged file is logged and treated as absent
    (the checks then use labels) rather than failing the quality run."""
    path = root / OPTION_SETS_FILE
    if not path.exists():
        return None
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
        return {str(t): {str(c): [int(v) for v in vs] for c, vs in cols.items()}
                for t, cols in body["tables"].items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        _log.warning("ignoring %s (%s: %s); option values are checked through their labels instead",
                     path, type(exc).__name__, exc)
        return None

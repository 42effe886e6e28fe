"""Table categories (worker, organization, compensation, benefits, leave and absence, …) in trigger forms.

``category_param()`` is the form field (an array of the catalog's categories, read from the catalog
YAML when the DAG file is parsed: one small file, cached per file version). ``selected_tables`` is a
template macro (``{{ selected_tables(params.tables, params.categories) }}``): the named tables plus
every table of the named categories, in catalog order; ``[]`` when both are empty (= every table).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow.sdk import Param

from dataverse_provider.trigger_params import table_names
from hr_deployment.schedules import catalog_categories

CATEGORIES = "categories"
LABELS = {"worker": "Worker", "organization": "Organization and positions", "skills": "Skills and certificates",
          "compensation": "Compensation", "benefits": "Benefits", "leave_and_absence": "Leave and absence",
          "payroll": "Payroll", "other": "Other"}


def category_param() -> Param:
    names = catalog_categories()
    return Param(
        [], type=["null", "array"],  # nullable: the form does not mark an optional field required
        items={"type": "string", "enum": names} if names else {"type": "string"},
        examples=names or None, values_display={n: LABELS.get(n, n) for n in names} or None,
        title="Categories",
        description="Sync whole HR areas (e.g. Benefits) without listing tables; added to the Tables above. "
                    "Both empty: every table of the entity catalog.",
    )


def selected_tables(tables: Sequence[str] | str | None, categories: Sequence[str] | str | None) -> list[str]:
    """Named tables plus the tables of the named categories (catalog order); [] when nothing is named.
    A bad category raises ``CatalogError`` naming the known ones."""
    names, wanted = table_names(tables), table_names(categories)
    if not wanted:
        return names
    from dataverse_provider.environment import configured_catalog

    catalog = configured_catalog()
    chosen = set(names) | set(catalog.in_categories(wanted))
    return [n for n in catalog.names() if n in chosen] + [n for n in names if n not in catalog]


MACROS: dict[str, Any] = {"selected_tables": selected_tables}

"""Trigger forms: a field that may be left empty is nullable, so the form does not mark it required
(the Airflow UI marks every field whose schema type excludes "null")."""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.airflow

ROOT = Path(__file__).resolve().parents[2]


def test_fields_that_may_stay_empty_are_not_marked_required() -> None:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(ROOT / "dags"))
    assert bag.import_errors == {}
    optional = []
    for dag in bag.dags.values():
        for name in dag.params:
            param = dag.params.get_param(name)
            if param.value in (None, [], {}, ""):  # empty is a valid choice: the field is optional
                optional.append(f"{dag.dag_id}.{name}")
                types = param.schema.get("type")
                assert isinstance(types, list) and "null" in types, f"{dag.dag_id}.{name} would be marked required"
    assert {"hr_dataverse_sync.tables", "hr_dataverse_sync.urs_mapping", "hr_dataverse_sync.data_quality",
            "hr_urs_mapping.urs_mapping", "hr_data_quality.data_quality", "hr_connection_check.tables",
            "hr_dataverse_admin.table"} <= set(optional)

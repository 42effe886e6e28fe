"""Every DAG file imports cleanly, declares tags and a schedule, and parses without heavy imports."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.airflow

ROOT = Path(__file__).resolve().parents[2]
DAG_FILES = sorted(p for p in (ROOT / "dags").glob("*.py") if not p.name.startswith("_"))
# Modules a DAG file must not pull in at parse time (the DAG processor re-imports files often).
# The Dataverse client's modules by name: the package hr_dataverse.dataverse itself loads its names on
# first use, so the settings modules the trigger form is generated from may import its light parts.
HEAVY = ("msal", "requests", "jwt", "great_expectations", "pandas", "sqlalchemy", "hr_dataverse.dataverse.transport",
         "hr_dataverse.dataverse.auth", "cryptography.hazmat.primitives.serialization.pkcs12")
PARSE_BUDGET_SECONDS = 2.0  # on top of importing airflow.sdk itself


@pytest.fixture(scope="module")
def dagbag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(ROOT / "dags"))


def test_dag_files_import_without_errors(dagbag) -> None:
    assert DAG_FILES, "no DAG files found"
    assert dagbag.import_errors == {}
    assert {Path(d.fileloc).name for d in dagbag.dags.values()} == {p.name for p in DAG_FILES}


def dag_calls_without_schedule(path: Path) -> list[int]:
    """Line numbers of ``DAG(...)``/``@dag(...)`` calls with no ``schedule=`` (Airflow 3 defaults to None,
    so a forgotten schedule silently means "never")."""
    missing = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call):
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if name in ("DAG", "dag") and "schedule" not in {k.arg for k in node.keywords}:
                missing.append(node.lineno)
    return missing


@pytest.mark.parametrize("dag_file", DAG_FILES, ids=lambda p: p.name)
def test_schedule_is_explicit(dag_file: Path) -> None:
    assert dag_calls_without_schedule(dag_file) == []


def test_dags_have_tags_docs_and_retries(dagbag) -> None:
    for dag_id, dag in dagbag.dags.items():
        assert dag.tags and dag.doc_md, f"{dag_id} needs tags and doc_md"
        assert dag.catchup is False, f"{dag_id} must not catch up"
        for task in dag.tasks:
            assert task.retries >= 2, f"{dag_id}.{task.task_id} retries={task.retries}"


def test_connection_check_dag_shape(dagbag) -> None:
    dag = dagbag.dags["hr_connection_check"]
    assert dag.schedule == "@daily"
    assert {t.task_id: t.upstream_task_ids for t in dag.tasks} == {
        "validate_token": set(), "check_entity_access": {"validate_token"},
        "report_new_hr_tables": {"validate_token"}, "credential_expiry": set()}
    assert set(dag.params) == {"conn_id", "secret_warn_days", "credential_warn_days", "tables"}
    for name, param in dag.params.items():
        assert param.schema.get("title") and param.description, f"param {name} needs a title and description"


@pytest.mark.parametrize("dag_file", DAG_FILES, ids=lambda p: p.name)
def test_parsing_is_cheap(dag_file: Path) -> None:
    """Import the file in a fresh interpreter: no heavy modules, little time beyond airflow.sdk."""
    probe = textwrap.dedent(f"""
        import importlib.util, json, sys, time
        import airflow.sdk
        before = set(sys.modules)
        start = time.perf_counter()
        spec = importlib.util.spec_from_file_location("dag_under_test", {str(dag_file)!r})
        spec.loader.exec_module(importlib.util.module_from_spec(spec))
        print(json.dumps({{"seconds": time.perf_counter() - start,
                          "heavy": [m for m in {HEAVY!r} if m in set(sys.modules) - before]}}))
    """)
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["heavy"] == []
    assert result["seconds"] < PARSE_BUDGET_SECONDS

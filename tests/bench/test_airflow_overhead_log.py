"""The Airflow-overhead report splits `airflow dags test` time by task from its log lines."""

from __future__ import annotations

import pytest

from bench.airflow_overhead import task_seconds

LOG = """\
2026-11-22T09:04:45.904507Z [info     ] [DAG TEST] starting task_id=integration_enabled map_index=-1 [airflow.sdk] loc=dag.py:1501
2026-11-22T09:04:45.904999Z [info     ] [DAG TEST] running task <TaskInstance: hr_dataverse_sync.integration_enabled>
2026-11-22T09:04:52.479850Z [info     ] [DAG TEST] end task task_id=integration_enabled map_index=-1 [airflow.sdk] loc=dag.py:1563
2026-11-22T09:05:00.000000Z [info     ] [DAG TEST] starting task_id=load_table map_index=0 [airflow.sdk] loc=dag.py:1501
2026-11-22T09:05:01.500000Z [info     ] [DAG TEST] end task task_id=load_table map_index=0 [airflow.sdk] loc=dag.py:1563
2026-11-22T09:05:02.000000Z [info     ] [DAG TEST] starting task_id=load_table map_index=1 [airflow.sdk] loc=dag.py:1501
2026-11-22T09:05:04.250000Z [info     ] [DAG TEST] end task task_id=load_table map_index=1 [airflow.sdk] loc=dag.py:1563
2026-11-22T09:05:05.000000Z [info     ] [DAG TEST] starting task_id=data_quality map_index=-1 [airflow.sdk] loc=dag.py:1501
"""


def test_task_seconds_add_up_mapped_instances_and_skip_unfinished_tasks() -> None:
    seconds = task_seconds(LOG)
    assert set(seconds) == {"integration_enabled", "load_table"}  # data_quality never ended
    assert seconds["integration_enabled"] == pytest.approx(6.575343)
    assert seconds["load_table"] == pytest.approx(1.5 + 2.25)


def test_task_seconds_of_a_log_without_task_lines_is_empty() -> None:
    assert task_seconds("airflow: error: the following arguments are required: dag_id\n") == {}

"""Task body of ``map_characteristics`` (``hr_dataverse_sync`` and ``hr_urs_mapping``): the trigger
form's ``urs_mapping`` object → ``MappingSettings`` → ``hr_dataverse.urs.run_mapping`` → a summary.

Settings: code default < the ``hr_urs_mapping_settings`` Variable < keys set in the trigger form
(``run_settings``); the effective values and their origins are logged first.

Outcomes:

* turned off (``enabled: false``): the task is skipped before anything is read or written;
* the write path is not ready (URS tables, Worker lookup, privileges; ``hr_dataverse.urs.write_path``):
  the task fails before any write, naming each fix;
* dry run: the plan is logged (counts per table and operation, then the first rows of each) and
  the task succeeds;
* rows Dataverse rejected: the plan and what was done are logged first, then the task fails
  (``AirflowFailException``: a retry would send the same rows) naming the first errors; the
  summary is pushed as the return value before failing. The next run retries those rows (a
  partial run does not move the mapping's watermark);
* another mapping run on the same warehouse (the other DAG): waits for it (``mapping_lock``);
* the mapping cannot start (a bad setting, an HR table not in the warehouse, a set-up problem on
  Dataverse): the task fails with the cause; throttling, 5xx and dropped connections are left to
  Airflow's retries.

The return value (XCom) is ``MappingResult.to_dict()`` cut down to counts and the first errors.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from dataverse_provider.hooks.dataverse import DataverseHook
from dataverse_provider.run_settings import (
    MAPPING_VARIABLE,
    log_settings,
    mapping_layers,
    mapping_settings,
    variable_object,
)
from hr_dataverse.vocabulary import MappingStatus

if TYPE_CHECKING:
    from hr_dataverse.urs import MappingResult, MappingSettings

log = logging.getLogger(__name__)

MAX_ERRORS_IN_SUMMARY = 10  # row errors and plan problems kept in the XCom value and named in a failure


# Deployment-wide mapping settings (a JSON object) under the per-run form values: see run_settings.
DEFAULTS_VARIABLE = MAPPING_VARIABLE


def deployment_defaults() -> dict[str, Any]:
    """The ``hr_urs_mapping_settings`` Airflow Variable, or {} when it is not set."""
    return variable_object(MAPPING_VARIABLE)


def mapping_request(values: Mapping[str, Any] | None, defaults: Mapping[str, Any] | None = None
                    ) -> tuple[MappingSettings, bool]:
    """Settings and ``full_remap`` from the ``urs_mapping`` form values over the deployment ``defaults``
    (code default < deployment < form); a bad value fails the task naming it."""
    return mapping_settings(mapping_layers(values, defaults or {}))


def map_characteristics(values: Mapping[str, Any] | None, *, dag_id: str, run_id: str, ti: Any = None,
                        conn_id: str = DataverseHook.default_conn_name) -> dict[str, Any]:
    """Run the HR → URS mapping once (see the module docstring) through connection ``conn_id``. The
    mapping state records the run as ``<dag_id>__<run_id>`` (two DAGs map); ``ti`` receives a failed
    run's summary as its return value."""
    from dataverse_provider.edge import task_session
    from hr_dataverse.urs import run_mapping
    from hr_deployment.mapping_lock import mapping_lock

    layers = mapping_layers(values)
    log_settings(layers, log)
    settings, full_remap = mapping_settings(layers)
    if not settings.enabled:
        raise AirflowSkipException(f"URS mapping is turned off (enabled = false, from {layers.origins['enabled']}): "
                                   "nothing is read or written in Dataverse and the characteristics already on "
                                   "resources stay")
    with task_session("URS mapping", conn_id) as session, mapping_lock(session.warehouse):
        result = run_mapping(session.client, session.warehouse, settings, run_id=f"{dag_id}__{run_id}",
                             full_remap=full_remap)
    log_result(result)
    summary = summarize(result)
    if not result.ok:
        if ti is not None:
            ti.xcom_push(key="return_value", value=summary)
        raise AirflowFailException(failure_message(summary))
    return summary


def summarize(result: MappingResult) -> dict[str, Any]:
    """The XCom value: counts and the first errors, no plan rows."""
    from dataverse_provider.edge import to_xcom

    data = to_xcom(result)  # the one conversion of the core's result for XCom
    plan = data.pop("plan") or {}
    data.pop("write_requests_by_table", None)
    data["errors"] = data["errors"][:MAX_ERRORS_IN_SUMMARY]
    return {**data, "planned": _nonzero(plan.get("counts", {})), "writes_planned": plan.get("writes", 0),
            "skipped": plan.get("skipped", 0), "problems": plan.get("problems", [])[:MAX_ERRORS_IN_SUMMARY],
            "problems_total": plan.get("problems_total", 0), "done": _nonzero(data["done"])}


def failure_message(summary: Mapping[str, Any]) -> str:
    lines = [f"URS mapping: Dataverse rejected {summary['errors_total']} row(s); the rows it accepted are "
             "mapped, the rejected ones are tried again on the next run. First errors:"]
    lines += [f"  {describe_error(e)}" for e in summary["errors"]]
    return "\n".join(lines)


def describe_error(error: Mapping[str, Any]) -> str:
    """One line per rejected row: table, operation, row, then Dataverse's status, code and message."""
    answer = " ".join(str(error[k]) for k in ("status", "code") if error.get(k) is not None)
    return f"{error['table']} {error['op']} '{error['label'] or error['key']}': {answer} {error['message']}".strip()


def log_result(result: MappingResult) -> None:
    """The plan (counts, then the first rows of each table and operation for a dry run), what was
    written, plan problems and row errors."""
    plan = result.plan.to_dict() if result.plan else {}
    scope = "full remap" if result.full_remap else "incremental" if result.incremental else "everything"
    log.info("URS mapping %s (%s, as of %s): %d writes planned, %d rows left out on purpose", result.status,
             scope, result.as_of, plan.get("writes", 0), plan.get("skipped", 0))
    for table, counts in plan.get("counts", {}).items():
        done = result.done.get(table, {})
        log.info("  %-32s %s", table, ", ".join(
            f"{kind} {n}" + ("" if result.status == MappingStatus.DRY_RUN else f" (done {done.get(kind, 0)})")
            for kind, n in counts.items() if n) or "no change")
    if result.status == MappingStatus.DRY_RUN:
        for table, kinds in plan.get("samples", {}).items():
            for kind, rows in kinds.items():
                for row in rows:
                    log.info("  plan %s %s %s: %s", table, kind, row.get("label") or row.get("key"), row.get("body"))
    else:
        log.info("%d requests to Dataverse (%d writes: %s) in %.1f s", result.requests, result.write_requests,
                 ", ".join(f"{k} {n}" for k, n in result.write_requests_by_kind.items()) or "none", result.seconds)
    for problem in plan.get("problems", []):
        log.warning("not mapped: %s '%s': %s", problem["table"], problem["label"] or problem["key"], problem["message"])
    if plan.get("problems_total", 0) > len(plan.get("problems", [])):
        log.warning("... %d problems in all", plan["problems_total"])
    for error in result.errors:
        log.error("rejected by Dataverse: %s", describe_error(error))
    if result.errors_total > len(result.errors):
        log.error("... %d rows rejected in all", result.errors_total)


def _nonzero(counts: Mapping[str, Mapping[str, int]]) -> dict[str, dict[str, int]]:
    return {table: {k: n for k, n in kinds.items() if n} for table, kinds in counts.items()
            if any(kinds.values())}

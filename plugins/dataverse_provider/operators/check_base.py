"""Shared shape of the pre-flight check operators: run a check suite from include/, write its JSON
report, log one line of cause and one of fix per failure, fail on blockers, return a small summary.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowException, AirflowFailException

from dataverse_provider.hooks.dataverse import DataverseHook
from hr_dataverse.vocabulary import CheckStatus

if TYPE_CHECKING:
    from airflow.sdk import Context

    from hr_dataverse.checks import CheckReport


class DataverseCheckOperator(BaseOperator):
    """Base for check operators; subclasses implement :meth:`run_checks`.

    :param dataverse_conn_id: the Dataverse connection.
    :param reports_dir: a local root for reports; default the report storage URL
        (``dataverse_provider.report_storage``: ``$HR_REPORT_STORAGE_URL``, else ``$HR_REPORTS_DIR``
        or ``<checkout>/reports``); the report goes to ``<root>/checks/<dag_id>/<run_id>/<task_id>.json``.
    """

    template_fields: Sequence[str] = ("dataverse_conn_id", "reports_dir")
    ui_color = "#e8f4ea"

    def __init__(self, *, dataverse_conn_id: str = DataverseHook.default_conn_name, reports_dir: str | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.dataverse_conn_id = dataverse_conn_id
        self.reports_dir = reports_dir

    def run_checks(self, hook: DataverseHook, context: Context) -> CheckReport:
        raise NotImplementedError

    def report_name(self) -> str:
        raise NotImplementedError

    def execute(self, context: Context) -> dict[str, Any]:
        from dataverse_provider.hooks.dataverse import connection_source
        from hr_dataverse.checks import CheckReport
        from hr_dataverse.dataverse import ConfigError

        self.log.info("connection '%s' comes from %s", self.dataverse_conn_id, connection_source(self.dataverse_conn_id))
        hook = DataverseHook(dataverse_conn_id=self.dataverse_conn_id)
        try:
            report = self.run_checks(hook, context)
        except ConfigError as exc:  # bad connection input: a blocker, not a stack trace
            report = CheckReport(self.report_name())
            report.failure("configuration", self.dataverse_conn_id, exc)
        finally:
            hook.close()
        path = self._write(report, context)
        self._log(report, path)
        if report.blockers():
            raise self._blocker_error(report, path)
        return {
            "status": report.status,
            "counts": report.counts(),
            "warnings": [e.label for e in report.warnings()],
            "report_path": path,
            **self.summary_extra(report),
        }

    def summary_extra(self, report: CheckReport) -> dict[str, Any]:
        """More keys of the returned summary (none by default)."""
        return {}

    def _write(self, report: CheckReport, context: Context) -> str:
        """Write the report to the report storage; returns its name for logs and XCom."""
        from dataverse_provider.report_storage import checks_storage, display, write_text
        from hr_dataverse.filenames import portable_name as safe

        run_id = str(context.get("run_id") or "manual")
        path = checks_storage(self.reports_dir) / safe(self.dag_id) / safe(run_id) / f"{safe(self.task_id)}.json"
        write_text(path, report.to_json())
        return display(path)

    def _log(self, report: CheckReport, path: str) -> None:
        self.log.info("%s; report: %s", report.summary_line(), path)
        levels = {CheckStatus.OK: self.log.info, CheckStatus.WARNING: self.log.warning, CheckStatus.BLOCKER: self.log.error}
        for entry in report:
            for line in entry.log_lines():
                levels[entry.status]("%s", line)

    def _blocker_error(self, report: CheckReport, path: str) -> AirflowException:
        blockers = report.blockers()
        lines = [f"{len(blockers)} blocker(s) found by {report.name} (report: {path}):"]
        for e in blockers:
            lines += [f"- {e.label}: {e.cause}", f"  fix: {e.fix}"]
        message = "\n".join(lines)
        # Throttling, 5xx and dropped connections may pass: let Airflow retry. Set-up mistakes will not.
        if report.only_transient_blockers():
            return AirflowException(message)
        return AirflowFailException(message)

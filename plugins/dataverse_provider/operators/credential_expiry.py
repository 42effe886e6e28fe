"""``DataverseCredentialExpiryOperator``: the expiry of the app credential the connection uses, read
from Entra (Microsoft Graph), else from the date typed in the connection.

Airflow 3 has no "warning" task state (apache/airflow#42757, #50433), so a credential expiring
within ``warn_days`` **fails this task** (red in the grid, its message saying which secret or
certificate expires when; AirflowFailException, so no retries) and its failure callback sends the ``credential_expiry``
alert. Give it no downstream tasks: nothing else waits for it. Graph not readable (permission
missing) is a logged warning with the permission to grant, not a failure.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk.exceptions import AirflowFailException

from dataverse_provider.operators.check_base import DataverseCheckOperator

if TYPE_CHECKING:
    from airflow.sdk import Context

    from dataverse_provider.hooks.dataverse import DataverseHook
    from hr_dataverse.checks import CheckReport


class DataverseCredentialExpiryOperator(DataverseCheckOperator):
    """:param warn_days: fail (and alert) when the credential expires within this many days;
        default: ``credential_warn_days`` of the alert configuration (30).
    :param graph_url: Microsoft Graph base URL; default the connection's extra ``graph_url``, else
        the Graph host of the connection's cloud.
    """

    template_fields: Sequence[str] = (*DataverseCheckOperator.template_fields, "warn_days", "graph_url")
    ui_color = "#fff4e5"

    def __init__(self, *, warn_days: int | str | None = None, graph_url: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.warn_days = warn_days
        self.graph_url = graph_url
        self._expiring: list[str] = []

    def report_name(self) -> str:
        return "credential_expiry"

    def run_checks(self, hook: DataverseHook, context: Context) -> CheckReport:
        from dataverse_provider.alerts import alert_settings
        from hr_dataverse.checks.credential_expiry import expiring, run_credential_expiry_check

        settings = hook.get_settings()
        graph_url = self.graph_url or hook.get_connection(self.dataverse_conn_id).extra_dejson.get("graph_url")
        days = int(self.warn_days) if self.warn_days not in (None, "") else alert_settings().credential_warn_days
        report = run_credential_expiry_check(settings, warn_days=days, graph_url=graph_url or None)
        self._expiring = expiring(report)
        return report

    def execute(self, context: Context) -> dict[str, Any]:
        summary = super().execute(context)  # an expired credential is a blocker: raised there
        if self._expiring:
            raise AirflowFailException("WARNING, act before it expires: " + " ".join(self._expiring)
                                       + f" (report: {summary['report_path']})")
        return summary

"""``DataverseTokenValidationOperator``: proves the connection yields a genuine, accepted token."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from dataverse_provider.operators.check_base import DataverseCheckOperator

if TYPE_CHECKING:
    from airflow.sdk import Context

    from dataverse_provider.hooks.dataverse import DataverseHook
    from hr_dataverse.checks import CheckReport

DEFAULT_SECRET_WARN_DAYS = 30  # same default as hr_dataverse.checks (not imported: parse time stays cheap)


class DataverseTokenValidationOperator(DataverseCheckOperator):
    """Acquire a token, verify its signature (tenant JWKS) and claims (audience, tenant, expiry, app),
    call WhoAmI, warn ``secret_warn_days`` before the client secret expires, report ``x-ms-dop-hint``.

    Fails without retry on any blocker (each listed with cause and fix); warnings are only logged.
    Returns ``{status, counts, warnings, report_path}``; never a token.

    :param secret_warn_days: warn when the client secret expires within this many days.
    """

    template_fields: Sequence[str] = (*DataverseCheckOperator.template_fields, "secret_warn_days")

    def __init__(self, *, secret_warn_days: int | str = DEFAULT_SECRET_WARN_DAYS, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.secret_warn_days = secret_warn_days

    def report_name(self) -> str:
        return "token_validation"

    def run_checks(self, hook: DataverseHook, context: Context) -> CheckReport:
        from hr_dataverse.checks import run_token_check

        return run_token_check(hook.get_conn(), secret_warn_days=int(self.secret_warn_days))

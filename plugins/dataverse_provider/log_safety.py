"""Keep credentials out of DEBUG logs where Airflow itself would write them.

Upstream behaviour (Airflow 3.3 Task SDK): ``mask_secret(value)`` registers the value with the task
process's masker and then sends ``MaskSecret(value=…)`` to the supervisor. Under ``airflow dags
test`` (and ``dag.test()``) the supervisor runs in the same process and its
``InProcessSupervisorComms.send`` logs every request at DEBUG: ``Sending request
msg=MaskSecret(value='<the secret>')``. The masker does not look inside the pydantic message, so
at DEBUG the client secret (Airflow masks a connection's password and extra when the connection is
read), a certificate key in the extra, and every access token the hook registers reach the log in
plain text. The subprocess supervisor of a real deployment logs that message "body omitted".

The least invasive fix: the in-process comms' logger is wrapped so that this one record (a
``MaskSecret`` request) is dropped; every other record passes unchanged, and masking itself is
untouched (the value is still registered before the message is sent). ``guard_mask_requests`` is
called before our tasks read a connection or mint a token; it does nothing outside that mode.
"""

from __future__ import annotations

from typing import Any

MASK_MESSAGE = "MaskSecret"


class _DropMaskSecretRequests:
    """A structlog logger proxy that drops ``debug(..., msg=MaskSecret(...))`` and forwards the rest."""

    def __init__(self, log: Any) -> None:
        self._log = log

    def debug(self, event: Any = None, *args: Any, **kw: Any) -> Any:
        if type(kw.get("msg")).__name__ == MASK_MESSAGE:
            return None
        return self._log.debug(event, *args, **kw)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._log, name)


def guard_mask_requests() -> None:
    """Wrap the in-process supervisor comms' logger of the running task (see the module docstring)."""
    try:
        from airflow.sdk.execution_time import task_runner
    except ImportError:  # pragma: no cover - not inside the Task SDK
        return
    comms = getattr(task_runner, "SUPERVISOR_COMMS", None)
    if comms is None or type(comms).__name__ != "InProcessSupervisorComms":
        return
    log = getattr(comms, "log", None)
    if log is not None and not isinstance(log, _DropMaskSecretRequests):
        comms.log = _DropMaskSecretRequests(log)

"""The integration's on/off switch ("Turn integration off/on" of the HR Dataverse integration page).

Task code cannot pause a DAG in Airflow 3 (no metadata-DB access, and the REST API needs an
api-server and credentials that ``airflow dags test`` does not have), so the switch is the Airflow
Variable ``hr_dataverse_integration``: the sync DAG's first task reads it and, while it is off,
skips the run. The schedule keeps ticking, runs end at once, and the sync state (delta links,
rows) is kept, so turning it on resumes with deltas (a gap longer than Dataverse's change-tracking
retention, 7 days by default, ends in an automatic full resync of the affected tables).

The value is JSON ``{"enabled": false, "changed_at": "...", "changed_by": "..."}``, written by the
``hr_dataverse_admin`` DAG; a hand-set ``off``/``on`` (or false/true, 0/1) is accepted too. No
Variable means on.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

SWITCH_VARIABLE = "hr_dataverse_integration"
_OFF = {"off", "false", "0", "no", "disabled"}
_ON = {"on", "true", "1", "yes", "enabled"}
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class IntegrationSwitch:
    enabled: bool
    changed_at: str | None = None
    changed_by: str | None = None

    def describe(self) -> str:
        since = f" since {self.changed_at}" if self.changed_at else ""
        by = f" (by {self.changed_by})" if self.changed_by else ""
        return f"the HR Dataverse integration is {'on' if self.enabled else 'off'}{since}{by}"


def parse_switch(raw: str | None) -> IntegrationSwitch:
    """Read the Variable's text; raises ``ValueError`` saying which values are understood."""
    if raw is None or not raw.strip():
        return IntegrationSwitch(enabled=True)
    text = raw.strip()
    if text.lower() in _ON | _OFF:
        return IntegrationSwitch(enabled=text.lower() in _ON)
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        data = None
    if not isinstance(data, dict) or not isinstance(data.get("enabled"), bool):
        raise ValueError(f"Variable {SWITCH_VARIABLE} = {text[:80]!r} is not understood; set it to 'on' or 'off' "
                         "(or use the hr_dataverse_admin DAG: Turn integration on/off)")
    return IntegrationSwitch(enabled=data["enabled"], changed_at=data.get("changed_at"),
                             changed_by=data.get("changed_by"))


def read_switch() -> IntegrationSwitch:
    from airflow.sdk import Variable

    return parse_switch(Variable.get(SWITCH_VARIABLE, default=None))


def write_switch(enabled: bool, changed_by: str) -> IntegrationSwitch:
    from airflow.sdk import Variable

    switch = IntegrationSwitch(enabled=enabled, changed_at=datetime.now(UTC).isoformat(timespec="seconds"),
                               changed_by=changed_by)
    Variable.set(SWITCH_VARIABLE, json.dumps(asdict(switch)),
                 description="HR Dataverse integration on/off (hr_dataverse_admin DAG); off = sync runs are skipped")
    return switch


def sync_allowed() -> bool:
    """The sync DAG's gate: True when the integration is on; logs why a run is skipped.
    A Variable that is not understood fails the task (a typo must not silently stop the sync)."""
    from airflow.sdk.exceptions import AirflowFailException

    try:
        switch = read_switch()
    except ValueError as exc:
        raise AirflowFailException(str(exc)) from None
    if switch.enabled:
        log.info("%s", switch.describe())
    else:
        log.warning("Skipping this run: %s. Turn it on with the hr_dataverse_admin DAG (action 'Turn integration "
                    "on'); the sync state is kept.", switch.describe())
    return switch.enabled

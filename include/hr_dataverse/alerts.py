"""Alerts: what can go wrong that a person must hear about, where alerts go, and what they say.
No Airflow imports: the notifier in ``dataverse_provider.alerts`` sends what :func:`compose` builds.

Configuration is one JSON document (the Airflow Variable ``hr_dataverse_alerts``)::

    {"email": {"to": ["hr-ops@contoso.com"], "smtp_conn_id": "smtp_default", "from_email": "airflow@contoso.com"},
     "teams": {"conn_id": "hr_alerts_teams"},        # a Teams Workflows webhook URL kept in a connection
     "slack": {"conn_id": "hr_alerts_slack"},        # needs apache-airflow-providers-slack
     "events": ["preflight_blocker", "failed_run", "dq_error", "short_read", "credential_expiry",
                "poller_failed"],                    # default: every event
     "credential_warn_days": 30}

Unknown keys and events are refused with the key named, so a typo does not silence alerts.

Short-read refusals: a load that refuses to delete on incomplete evidence raises an exception with
``alert_event = "short_read"`` (see :func:`event_of`); its failure callback then sends that alert.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from html import escape
from typing import Any

ALERTS_VARIABLE = "hr_dataverse_alerts"
DEFAULT_CREDENTIAL_WARN_DAYS = 30
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")


class AlertEvent(StrEnum):
    PREFLIGHT_BLOCKER = "preflight_blocker"
    FAILED_RUN = "failed_run"
    DQ_ERROR = "dq_error"
    SHORT_READ = "short_read"
    CREDENTIAL_EXPIRY = "credential_expiry"
    POLLER_FAILED = "poller_failed"


TITLES = {
    AlertEvent.PREFLIGHT_BLOCKER: "Pre-flight check blocked the HR sync",
    AlertEvent.FAILED_RUN: "HR sync run failed",
    AlertEvent.DQ_ERROR: "HR data-quality errors",
    AlertEvent.SHORT_READ: "HR sync refused to delete on a short read",
    AlertEvent.CREDENTIAL_EXPIRY: "Dataverse app credential expires soon",
    AlertEvent.POLLER_FAILED: "HR change poller is failing",
}


class AlertConfigError(ValueError):
    """The alert configuration is unusable; the message names the key to fix."""


@dataclass(frozen=True)
class AlertSettings:
    to: tuple[str, ...] = ()
    smtp_conn_id: str = "smtp_default"
    from_email: str | None = None
    teams_conn_id: str | None = None
    slack_conn_id: str | None = None
    events: frozenset[AlertEvent] = field(default_factory=lambda: frozenset(AlertEvent))
    credential_warn_days: int = DEFAULT_CREDENTIAL_WARN_DAYS

    @property
    def channels(self) -> list[str]:
        return [name for name, on in (("email", self.to), ("teams", self.teams_conn_id), ("slack", self.slack_conn_id))
                if on]

    def wants(self, event: AlertEvent) -> bool:
        return event in self.events and bool(self.channels)

    @classmethod
    def parse(cls, value: str | Mapping[str, Any] | None, *, source: str = f"Variable {ALERTS_VARIABLE}") -> AlertSettings:
        """Settings from the JSON document (text or parsed); None or empty: no alerts."""
        if value is None or (isinstance(value, str) and not value.strip()):
            return cls()
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except json.JSONDecodeError as exc:
                raise AlertConfigError(f"{source}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
        if not isinstance(value, Mapping):
            raise AlertConfigError(f"{source}: expected a JSON object")
        _known(value, {"email", "teams", "slack", "events", "credential_warn_days"}, source)
        email = _section(value, "email", {"to", "smtp_conn_id", "from_email"}, source)
        to = email.get("to") or []
        to = [to] if isinstance(to, str) else to
        if not isinstance(to, list) or not all(isinstance(a, str) and _EMAIL.match(a) for a in to):
            raise AlertConfigError(f"{source}: email.to must be a list of e-mail addresses")
        teams = _section(value, "teams", {"conn_id"}, source)
        slack = _section(value, "slack", {"conn_id"}, source)
        events = value.get("events")
        if events is None:
            chosen = frozenset(AlertEvent)
        else:
            unknown = [e for e in events if e not in AlertEvent.__members__.values()] if isinstance(events, list) else [events]
            if unknown:
                raise AlertConfigError(f"{source}: events: unknown {unknown} (known: {', '.join(AlertEvent)})")
            chosen = frozenset(AlertEvent(e) for e in events)
        days = value.get("credential_warn_days", DEFAULT_CREDENTIAL_WARN_DAYS)
        if not isinstance(days, int) or isinstance(days, bool) or not 0 <= days <= 730:
            raise AlertConfigError(f"{source}: credential_warn_days must be a whole number of days from 0 to 730")
        return cls(to=tuple(to), smtp_conn_id=email.get("smtp_conn_id") or "smtp_default",
                   from_email=email.get("from_email"), teams_conn_id=teams.get("conn_id"),
                   slack_conn_id=slack.get("conn_id"), events=chosen, credential_warn_days=days)


@dataclass(frozen=True)
class Alert:
    event: AlertEvent
    subject: str
    summary: str
    facts: tuple[tuple[str, str], ...]
    link: str | None = None

    def text(self) -> str:
        lines = [self.summary, ""] + [f"{k}: {v}" for k, v in self.facts]
        return "\n".join(lines + ([f"Open: {self.link}"] if self.link else []))

    def html(self) -> str:
        rows = "".join(f"<tr><th align=left>{escape(k)}</th><td><pre style='margin:0;white-space:pre-wrap'>"
                       f"{escape(v)}</pre></td></tr>" for k, v in self.facts)
        link = f'<p><a href="{escape(self.link)}">Open in Airflow</a></p>' if self.link else ""
        return (f"<h2>{escape(TITLES[self.event])}</h2><p>{escape(self.summary)}</p>"
                f"<table cellpadding=4>{rows}</table>{link}")


def compose(event: AlertEvent, *, dag_id: str | None, run_id: str | None, task_id: str | None, detail: str,
            link: str | None = None) -> Alert:
    """The alert for ``event``; ``detail`` is the failure's message (secrets are never in it: the
    check and sync errors name causes and fixes, not credentials)."""
    where = " / ".join(p for p in (dag_id, task_id) if p)
    first = detail.strip().splitlines()[0] if detail.strip() else TITLES[event]
    facts = [("Event", str(event)), ("DAG", dag_id or "-"), ("Run", run_id or "-"), ("Task", task_id or "-"),
             ("Details", detail.strip()[:4000] or "-")]
    return Alert(event, f"[HR sync] {TITLES[event]}{f': {where}' if where else ''}", first[:500],
                 tuple(facts), link)


def event_of(exc: BaseException | None) -> AlertEvent | None:
    """The alert an exception asks for through its ``alert_event`` attribute (the short-read guard's
    hook point), or None."""
    value = getattr(exc, "alert_event", None)
    try:
        return AlertEvent(value) if value is not None else None
    except ValueError:
        return None


def _known(value: Mapping[str, Any], keys: set[str], where: str) -> None:
    unknown = sorted(set(value) - keys)
    if unknown:
        raise AlertConfigError(f"{where}: unknown key(s) {', '.join(unknown)} (known: {', '.join(sorted(keys))})")


def _section(value: Mapping[str, Any], name: str, keys: set[str], source: str) -> Mapping[str, Any]:
    section = value.get(name) or {}
    if not isinstance(section, Mapping):
        raise AlertConfigError(f"{source}: {name} must be a JSON object")
    _known(section, keys, f"{source}: {name}")
    return section

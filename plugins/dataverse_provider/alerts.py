"""Alerts through Airflow notifiers: e-mail (the SMTP provider's ``SmtpNotifier``), a Microsoft Teams
Workflows webhook (a small notifier posting an Adaptive Card; Teams has no provider), and Slack
(the Slack provider's ``SlackWebhookNotifier`` when that provider is installed).

Where alerts go is configured in one place, the Variable ``hr_dataverse_alerts`` (see
``hr_dataverse.alerts``); without it nothing is sent. The DAGs attach
``HrAlertNotifier(<event>)`` to the tasks whose failure is that event:

* ``preflight_blocker``: ``validate_token``, ``check_entity_access``;
* ``failed_run``: ``watcher`` of ``hr_dataverse_sync`` (it fails exactly when the run fails);
* ``dq_error``: ``data_quality`` (fails on error-severity checks);
* ``short_read``: the load tasks, only when the exception carries ``alert_event = "short_read"``;
* ``credential_expiry``: ``credential_expiry`` of ``hr_connection_check``;
* ``poller_failed``: the change poller in the triggerer (``send_alert``, from a thread).

Failure callbacks run in the task's process; a channel that fails is logged and the others still send.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote

from airflow.sdk import BaseNotifier

from hr_dataverse.alerts import ALERTS_VARIABLE, Alert, AlertEvent, AlertSettings, compose, event_of

log = logging.getLogger(__name__)


def alert_settings() -> AlertSettings:
    """The configuration from the Variable ``hr_dataverse_alerts`` (none: no alerts)."""
    from airflow.sdk import Variable

    return AlertSettings.parse(Variable.get(ALERTS_VARIABLE, default=None))


def run_link(dag_id: str | None, run_id: str | None) -> str | None:
    """The DAG run in the Airflow UI (``[api] base_url``)."""
    if not dag_id or not run_id:
        return None
    from airflow.configuration import conf

    base = (conf.get("api", "base_url", fallback="") or "http://localhost:8080").rstrip("/")
    return f"{base}/dags/{quote(dag_id, safe='')}/runs/{quote(run_id, safe='')}"


class HrAlertNotifier(BaseNotifier):
    """Sends the alert for ``event`` to every configured channel.

    :param event: what happened (``hr_dataverse.alerts.AlertEvent``).
    :param only_when_marked: send only when the failure's exception asks for this event
        (``alert_event`` attribute), e.g. the short-read guard inside a load task.
    """

    def __init__(self, event: AlertEvent | str, *, only_when_marked: bool = False) -> None:
        super().__init__()
        self.event = AlertEvent(event)
        self.only_when_marked = only_when_marked

    def notify(self, context: Any) -> None:
        exc = context.get("exception")
        if self.only_when_marked and event_of(exc) is not self.event:
            return
        settings = alert_settings()
        if not settings.wants(self.event):
            return
        ti = context.get("ti")
        dag_id = getattr(ti, "dag_id", None) or getattr(context.get("dag"), "dag_id", None)
        run_id = context.get("run_id") or getattr(ti, "run_id", None)
        alert = compose(self.event, dag_id=dag_id, run_id=run_id, task_id=getattr(ti, "task_id", None),
                        detail=str(exc) if exc else "", link=run_link(dag_id, run_id))
        send_alert(alert, settings, context)


def send_alert(alert: Alert, settings: AlertSettings, context: Any = None) -> list[str]:
    """Send ``alert`` to each configured channel; returns the channels that took it. A failing
    channel is logged (never with the webhook URL) and does not stop the others."""
    sent = []
    for channel, send in (("email", _email), ("teams", _teams), ("slack", _slack)):
        if channel not in settings.channels:
            continue
        try:
            send(alert, settings, context or {})
            sent.append(channel)
        except Exception as exc:  # noqa: BLE001 - one broken channel must not silence the others
            log.error("alert %s could not be sent by %s: %s: %s", alert.event, channel, type(exc).__name__,
                      str(exc).splitlines()[0][:300] if str(exc) else "")
    if sent:
        log.info("alert %s sent by %s", alert.event, ", ".join(sent))
    return sent


def _email(alert: Alert, settings: AlertSettings, context: Any) -> None:
    from airflow.providers.smtp.notifications.smtp import SmtpNotifier

    SmtpNotifier(to=list(settings.to), from_email=settings.from_email, subject=alert.subject,
                 html_content=alert.html(), smtp_conn_id=settings.smtp_conn_id).notify(context)


def _teams(alert: Alert, settings: AlertSettings, context: Any) -> None:
    """POST an Adaptive Card to a Teams Workflows webhook (the URL is the connection's extra
    ``webhook_url``, or its host)."""
    import requests
    from airflow.sdk import BaseHook

    conn = BaseHook.get_connection(settings.teams_conn_id)
    url = conn.extra_dejson.get("webhook_url") or conn.host or ""
    if not url.startswith("https://") and not url.startswith("http://127.0.0.1"):
        raise ValueError(f"connection '{settings.teams_conn_id}' holds no webhook URL (extra webhook_url)")
    card = {"type": "AdaptiveCard", "$schema": "http://adaptivecards.io/schemas/adaptive-card.json", "version": "1.4",
            "body": [{"type": "TextBlock", "size": "Medium", "weight": "Bolder", "text": alert.subject, "wrap": True},
                     {"type": "TextBlock", "text": alert.summary, "wrap": True},
                     {"type": "FactSet", "facts": [{"title": k, "value": v[:500]} for k, v in alert.facts]}],
            "actions": [{"type": "Action.OpenUrl", "title": "Open in Airflow", "url": alert.link}] if alert.link else []}
    body = {"type": "message", "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive",
                                                "content": card}]}
    resp = requests.post(url, json=body, timeout=15)
    if resp.status_code >= 300:
        raise RuntimeError(f"the Teams webhook answered HTTP {resp.status_code}")


def _slack(alert: Alert, settings: AlertSettings, context: Any) -> None:
    try:
        from airflow.providers.slack.notifications.slack_webhook import SlackWebhookNotifier
    except ImportError:
        raise RuntimeError("Slack alerts need apache-airflow-providers-slack (pip install it, pinned)") from None
    SlackWebhookNotifier(slack_webhook_conn_id=settings.slack_conn_id, text=alert.text()).notify(context)


def alert_on(event: AlertEvent | str, **kwargs: Any) -> list[HrAlertNotifier]:
    """``on_failure_callback=alert_on("dq_error")``."""
    return [HrAlertNotifier(event, **kwargs)]

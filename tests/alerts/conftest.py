"""A local SMTP sink (aiosmtpd on a free port) and a local webhook receiver, wired to Airflow through
env-var connections and the ``hr_dataverse_alerts`` Variable."""

from __future__ import annotations

import email
import json
import socket
import threading
from collections.abc import Iterator
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SmtpSink:
    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd API
        message = email.message_from_bytes(envelope.content)
        message["X-Envelope-To"] = ",".join(envelope.rcpt_tos)
        self.messages.append(message)
        return "250 OK"

    def subjects(self) -> list[str]:
        return [str(m["Subject"]) for m in self.messages]

    def body(self, index: int) -> str:
        part = self.messages[index]
        for piece in part.walk():
            if piece.get_content_type() == "text/html":
                return piece.get_payload(decode=True).decode()
        return ""


class Webhook(BaseHTTPRequestHandler):
    posts: list[Any]

    def do_POST(self) -> None:  # noqa: N802 - http.server API
        self.posts.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        self.send_response(202)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def smtp_sink(monkeypatch: pytest.MonkeyPatch) -> Iterator[SmtpSink]:
    from aiosmtpd.controller import Controller

    sink = SmtpSink()
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    monkeypatch.setenv("AIRFLOW_CONN_SMTP_ALERTS", json.dumps({
        "conn_type": "smtp", "host": "127.0.0.1", "port": port,
        "extra": {"disable_tls": True, "disable_ssl": True, "from_email": "airflow@hr.test", "timeout": 10}}))
    try:
        yield sink
    finally:
        controller.stop()


@pytest.fixture
def teams_webhook(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    posts: list[Any] = []
    handler = type("Handler", (Webhook,), {"posts": posts})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("AIRFLOW_CONN_HR_ALERTS_TEAMS", json.dumps(
        {"conn_type": "http", "extra": {"webhook_url": f"http://127.0.0.1:{server.server_port}/workflows/hook"}}))
    try:
        yield posts
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def alerts_config(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    config = {"email": {"to": ["hr-ops@hr.test"], "smtp_conn_id": "smtp_alerts"},
              "teams": {"conn_id": "hr_alerts_teams"}, "credential_warn_days": 30}
    monkeypatch.setenv("AIRFLOW_VAR_HR_DATAVERSE_ALERTS", json.dumps(config))
    return config

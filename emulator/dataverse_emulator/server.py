"""Threaded HTTPS server adapting real sockets to the emulator's ``(Request) -> Response`` pipeline."""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from .app import Emulator
from .config import EmulatorConfig
from .http import Headers, Request
from .tls import ensure_certificates, server_context

_CERT_HOSTS = ("localhost", "127.0.0.1")  # names the server certificate covers (tls.py)

MAX_BODY = 64 * 1024 * 1024


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: clients pool connections as they do against Dataverse
    # Headers and body go out in separate writes; without TCP_NODELAY, Nagle + delayed ACK add ~40 ms.
    disable_nagle_algorithm = True
    server: _TlsServer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass  # the emulator keeps its own request log; stderr noise helps nobody

    def _scheme_host(self) -> str:
        """The origin as the client addressed us (Dataverse builds nextLink/deltaLink from it): the Host
        header when it names this server (a certificate host, our port), else our base URL."""
        host = (self.headers.get("Host") or "").strip().lower()
        name, _, port = host.rpartition(":")
        if name in _CERT_HOSTS and port == str(self.server.server_address[1]):
            return f"https://{host}"
        return self.server.base_url

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self.send_error(413, "Request body too large")
            return
        body = self.rfile.read(length) if length else b""
        raw_path, _, raw_query = self.path.partition("?")
        req = Request(
            method=self.command,
            path=unquote(raw_path),
            raw_query=raw_query,
            headers=Headers(list(self.headers.items())),
            body=body,
            scheme_host=self._scheme_host(),
        )
        resp, fault = self.server.emulator.handle(req)
        if fault is not None and fault.kind == "reset":
            self._reset()
            return
        self.send_response(resp.status)
        for k, v in resp.headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(resp.body)))
        self.end_headers()
        if fault is not None and fault.kind == "truncate":
            self.wfile.write(resp.body[: len(resp.body) // 2])
            self.wfile.flush()
            # A plain close (FIN), not a reset: an RST would make the client drop what it received.
            self.close_connection = True
            return
        self.wfile.write(resp.body)

    def _reset(self) -> None:
        """Drop the connection without a response (RST), as a failing load balancer does."""
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.close()

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve


class _TlsServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256
    allow_reuse_address = True

    def __init__(self, addr: tuple[str, int], emulator: Emulator, ssl_ctx: Any) -> None:
        super().__init__(addr, _Handler)
        self.emulator = emulator
        self.ssl_ctx = ssl_ctx
        host = addr[0] if ":" not in addr[0] else f"[{addr[0]}]"
        self.base_url = f"https://{host}:{self.server_address[1]}"

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients that drop the connection or reject our CA are normal here; say so in one line."""
        import sys

        exc = sys.exc_info()[1]
        if isinstance(exc, ssl.SSLError | ConnectionError | TimeoutError):
            return
        sys.stderr.write(f"emulator: error serving {client_address}: {type(exc).__name__}: {exc}\n")

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, addr = self.socket.accept()
        # Handshake lazily in the worker thread so one slow client cannot stall accept().
        return self.ssl_ctx.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), addr


class EmulatorServer:
    """Owns the emulator and its TLS server thread; usable in-process or from the CLI."""

    def __init__(self, config: EmulatorConfig | None = None, emulator: Emulator | None = None) -> None:
        self.config = config or (emulator.config if emulator else EmulatorConfig())
        self.emulator = emulator or Emulator(self.config)
        public = self.config.public_host
        self.tls = ensure_certificates(Path(self.config.state_dir), (public,) if public else ())
        self._server = _TlsServer((self.config.host, self.config.port), self.emulator, server_context(self.tls))
        if public:  # links and token issuers name the host clients reach, not 0.0.0.0
            self._server.base_url = f"https://{public}:{self._server.server_address[1]}"
        self.emulator.bind(self._server.base_url)
        self._thread: threading.Thread | None = None

    @property
    def info(self) -> dict[str, Any]:
        info = self.emulator.info()
        info["ca_bundle"] = str(self.tls.ca_bundle.resolve())
        return info

    def start(self) -> EmulatorServer:
        # A short poll interval makes stop() quick (tests start and stop many emulators).
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="dataverse-emulator", daemon=True
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._server.serve_forever()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread:
            self._thread.join(timeout=5)

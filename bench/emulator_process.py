"""The emulator as a separate process (``python -m dataverse_emulator serve``) plus its admin API."""

from __future__ import annotations

import contextlib
import json
import select
import ssl
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Any

import psutil

from .settings import BenchSettings

READY_TIMEOUT_S = 3600.0  # data generation: ~15 s per million rows on 2 idle cores, minutes when busy


def _first_to_go(pid: int) -> None:
    """At 10M rows the emulator holds ~12 GB: if the machine runs short, the kernel should end it,
    not a neighbour's process (best effort; Linux only)."""
    with contextlib.suppress(OSError):
        Path(f"/proc/{pid}/oom_score_adj").write_text("1000")


class EmulatorError(RuntimeError):
    """The emulator did not start, died, or refused an admin call."""


class EmulatorProcess:
    """Start with ``with EmulatorProcess(settings, state_dir, log_path) as emu:``; ``emu.info`` is the
    ready line (URLs, credentials, CA bundle)."""

    def __init__(self, settings: BenchSettings, state_dir: Path, log_path: Path, *, workers: int | None = None) -> None:
        self.settings = settings
        self.workers = workers or settings.workers
        self.state_dir = state_dir
        self.log_path = log_path
        self.info: dict[str, Any] = {}
        self._proc: subprocess.Popen[str] | None = None
        self._ssl: ssl.SSLContext | None = None

    def command(self) -> list[str]:
        s = self.settings
        return [sys.executable, "-m", "dataverse_emulator", "serve", "--scale", str(self.workers),
                "--seed", str(s.seed), "--latency-ms", str(s.latency_ms),
                "--latency-per-row-ms", str(s.latency_per_row_ms), "--protection", s.protection,
                "--dop-hint", str(s.dop_hint), "--fault-429", str(s.fault_429), "--state-dir", str(self.state_dir),
                "--untracked", ",".join(s.untracked)]

    def __enter__(self) -> EmulatorProcess:
        return self.start()

    def start(self) -> EmulatorProcess:
        """Start the process and wait for its ready line; raises ``EmulatorError`` when it fails."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("w")
        self._proc = subprocess.Popen(self.command(), stdout=subprocess.PIPE, stderr=log, text=True)
        log.close()
        _first_to_go(self._proc.pid)
        try:
            ready, _, _ = select.select([self._proc.stdout], [], [], READY_TIMEOUT_S)
            line = self._proc.stdout.readline() if ready and self._proc.stdout else ""
            if not line:
                raise EmulatorError(f"the emulator did not become ready (exit code {self._proc.poll()}); "
                                    f"see {self.log_path}")
            self.info = json.loads(line)
        except BaseException:
            self.stop()
            raise
        self._ssl = ssl.create_default_context(cafile=self.info["ca_bundle"])
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def stop(self) -> None:
        if self._proc is None or self._proc.poll() is not None:
            return
        self._proc.terminate()
        try:
            self._proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()

    @property
    def pid(self) -> int:
        assert self._proc is not None
        return self._proc.pid

    def cpu_seconds(self) -> float:
        """User + system CPU the emulator process has used so far (all its threads)."""
        times = psutil.Process(self.pid).cpu_times()
        return times.user + times.system

    def rss_mb(self) -> float:
        return psutil.Process(self.pid).memory_info().rss / 2**20

    def admin(self, method: str, path: str, body: Any = None) -> Any:
        """Call ``/_emulator/<path>``; raises ``EmulatorError`` with the emulator's message on refusal."""
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(f"{self.info['dataverse_url']}/_emulator/{path}", data=data, method=method,
                                     headers={"Content-Type": "application/json"} if data else {})
        try:
            with urllib.request.urlopen(req, context=self._ssl, timeout=600) as resp:
                raw = resp.read()
        except urllib.error.HTTPError as exc:
            raise EmulatorError(f"emulator refused {method} /_emulator/{path} ({exc.code}): "
                                f"{exc.read().decode(errors='replace')[:500]}") from None
        return json.loads(raw) if raw else None

    def request_totals(self) -> dict[str, Any]:
        """Dataverse requests so far: total, by status, rows returned, latency-model seconds."""
        return self.admin("GET", "requests")

    def bulk_changes(self, tables: list[str], fraction: float, delete_share: float, seed: int) -> dict[str, Any]:
        return self.admin("POST", "bulk-changes",
                          {"tables": tables, "fraction": fraction, "delete_share": delete_share, "seed": seed})

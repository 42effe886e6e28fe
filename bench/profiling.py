"""Sampling profiles with py-spy (pinned in requirements-dev.txt): raw collapsed stacks of a process,
summarised as the functions where it spends its busy time (self and inclusive)."""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

# Leaf frames that are waiting, not working: sockets, locks, sleeps, the server's poll loop.
_IDLE = re.compile(r"^(poll|select|accept|sleep|wait|_wait_for_tstate_lock|recv_into|readinto|acquire|get|"
                   r"serve_forever|read|join)\b")


class ProfilerMissing(RuntimeError):
    pass


def py_spy() -> str:
    """The py-spy executable of this interpreter's environment (or on PATH)."""
    beside = Path(sys.executable).parent / "py-spy"
    path = str(beside) if beside.exists() else shutil.which("py-spy")
    if path is None:
        raise ProfilerMissing("py-spy is not installed: pip install -r requirements-dev.txt (it pins py-spy)")
    return path


def attach(pid: int, out: Path, rate: int = 100) -> subprocess.Popen[bytes]:
    """Start sampling a running process into ``out`` (raw format); stop it with ``finish``."""
    return subprocess.Popen([py_spy(), "record", "--pid", str(pid), "--format", "raw", "--rate", str(rate),
                             "--output", str(out), "--nonblocking"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def finish(recorder: subprocess.Popen[bytes]) -> None:
    """Stop a recorder (SIGINT makes py-spy write its output)."""
    if recorder.poll() is None:
        recorder.send_signal(signal.SIGINT)
    try:
        recorder.wait(timeout=60)
    except subprocess.TimeoutExpired:
        recorder.kill()
        recorder.wait()


def summarise(raw: Path, top: int = 25) -> str:
    """Text table of the busiest functions of a raw py-spy profile."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    busy = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = stack.split(";")
        if _IDLE.match(frames[-1]):
            continue
        samples = int(count)
        busy += samples
        own[frames[-1]] += samples
        for frame in set(frames):
            inclusive[frame] += samples
    if not busy:
        return f"{raw.name}: no busy samples\n"
    out = [f"{raw.name}: {busy} busy samples", "-- self time"]
    out += [f"{n / busy:6.1%}  {frame}" for frame, n in own.most_common(top)]
    out += ["-- inclusive time"]
    out += [f"{n / busy:6.1%}  {frame}" for frame, n in inclusive.most_common(top)]
    return "\n".join(out) + "\n"

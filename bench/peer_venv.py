"""The peer baseline's own virtual environment, created on first use: Microsoft's SDK pulls pandas and
azure-identity, which must not disturb the project's pinned dependencies.

``ensure(path)`` creates ``path`` (default ``.bench/peer-venv``) with ``python -m venv`` and installs
``PEER_REQUIREMENT`` with that environment's pip, from whatever index pip is configured for (a local
mirror works offline). It returns the environment's interpreter, or raises ``PeerUnavailable`` with
pip's last lines when the install fails, so the bench reports the peer as skipped instead of failing.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

PEER_REQUIREMENT = "powerplatform-dataverse-client==1.1.0"
INSTALL_TIMEOUT_S = 900


class PeerUnavailable(RuntimeError):
    pass


def interpreter(path: Path) -> Path:
    return path / "bin" / "python"


def ensure(path: Path) -> Path:
    """The peer environment's python, installing it first if it lacks the SDK."""
    python = interpreter(path)
    if python.exists() and _has_sdk(python):
        return python
    log = path.with_name(path.name + "-install.log")
    path.parent.mkdir(parents=True, exist_ok=True)
    steps = [[sys.executable, "-m", "venv", str(path)],
             [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", PEER_REQUIREMENT]]
    with log.open("w") as out:
        for step in steps:
            try:
                done = subprocess.run(step, stdout=out, stderr=subprocess.STDOUT, timeout=INSTALL_TIMEOUT_S,
                                      check=False)
            except subprocess.TimeoutExpired:
                raise PeerUnavailable(f"{' '.join(step[:3])} did not finish in {INSTALL_TIMEOUT_S} s; see {log}") from None
            if done.returncode != 0:
                tail = " | ".join(log.read_text().strip().splitlines()[-3:])
                raise PeerUnavailable(f"installing {PEER_REQUIREMENT} failed ({tail}); see {log}")
    if not _has_sdk(python):
        raise PeerUnavailable(f"{PEER_REQUIREMENT} installed but does not import; see {log}")
    return python


def _has_sdk(python: Path) -> bool:
    probe = subprocess.run([str(python), "-c", "import PowerPlatform.Dataverse.client"],
                           capture_output=True, timeout=120, check=False)
    return probe.returncode == 0

"""Headless Chromium for page tests: the DOM after load and a full-page screenshot in tests/artifacts/.
Network is limited to 127.0.0.1 (every other host fails to resolve), so a page needing a CDN shows it."""

from __future__ import annotations

import subprocess
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from shared_helpers import find_chromium

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"


def render(url: str, profile: Path, screenshot: str, *, size: str = "1280,2000") -> str:
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / screenshot
    shot.unlink(missing_ok=True)
    result = subprocess.run(
        [find_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
         "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1", f"--user-data-dir={profile}",
         f"--window-size={size}", "--virtual-time-budget=5000", f"--screenshot={shot}", "--dump-dom", url],
        capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    assert shot.is_file() and shot.stat().st_size > 10_000, "no screenshot written"
    return result.stdout


def signed_in(app: Any) -> Any:
    """Let every request through as a signed-in user (what the UI's session cookie does)."""
    from airflow.api_fastapi.core_api.security import get_user

    app.dependency_overrides[get_user] = lambda: SimpleNamespace(get_name=lambda: "tester")
    return app

"""The emulator as users start it: `python -m dataverse_emulator serve`, one JSON line, then mutate."""

from __future__ import annotations

import json
import ssl
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

READY_KEYS = {"dataverse_url", "authority", "tenant_id", "client_id", "client_secret", "ca_bundle"}


@pytest.fixture
def served(tmp_path: Path):
    proc = subprocess.Popen(
        [sys.executable, "-m", "dataverse_emulator", "serve", "--port", "0", "--scale", "30",
         "--state-dir", str(tmp_path / "state")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        line = proc.stdout.readline()
        assert line, proc.stderr.read()
        yield json.loads(line)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert proc.returncode == 0, "SIGTERM must stop the emulator cleanly"


def _get(url: str, ca: str) -> dict:
    ctx = ssl.create_default_context(cafile=ca)
    with urllib.request.urlopen(url, context=ctx, timeout=10) as resp:
        return json.loads(resp.read())


def test_serve_prints_one_json_line_clients_can_wire_to(served: dict) -> None:
    assert served.keys() >= READY_KEYS
    assert served["dataverse_url"].startswith("https://127.0.0.1:")
    assert served["authority"] == f"{served['dataverse_url']}/{served['tenant_id']}"
    assert Path(served["ca_bundle"]).is_file()
    # The login host answers over TLS trusted through the reported CA bundle.
    doc = _get(f"{served['authority']}/v2.0/.well-known/openid-configuration", served["ca_bundle"])
    assert doc["token_endpoint"] == f"{served['authority']}/oauth2/v2.0/token"


def test_mutate_subcommand_changes_hr_data_in_a_running_emulator(served: dict) -> None:
    spec = json.dumps({"action": "change_job_title", "worker_number": "000001", "title": "Lead Analyst"})
    done = subprocess.run(
        [sys.executable, "-m", "dataverse_emulator", "mutate", spec,
         "--url", served["dataverse_url"], "--ca-bundle", served["ca_bundle"]],
        capture_output=True, text=True, timeout=30,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["applied"]

    bad = subprocess.run(
        [sys.executable, "-m", "dataverse_emulator", "mutate", '{"action": "change_job_title", "worker_number": "nope", "title": "x"}',
         "--url", served["dataverse_url"], "--ca-bundle", served["ca_bundle"]],
        capture_output=True, text=True, timeout=30,
    )
    assert bad.returncode == 1
    assert "nope" in bad.stderr  # the error names the unknown worker


def test_bad_flags_are_refused_with_a_clear_message(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "dataverse_emulator", "serve", "--fault-429", "1.5", "--state-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=30,
    )
    assert done.returncode != 0
    assert "between 0 and 1" in done.stderr
    done = subprocess.run(
        [sys.executable, "-m", "dataverse_emulator", "serve", "--protection", "nope"],
        capture_output=True, text=True, timeout=30,
    )
    assert done.returncode == 2 and "invalid choice" in done.stderr
    done = subprocess.run(
        [sys.executable, "-m", "dataverse_emulator", "serve", "--untracked", "cdm_nosuch", "--state-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=30,
    )
    assert done.returncode != 0 and "unknown tables: cdm_nosuch" in done.stderr


def test_untracked_flag_sets_which_tables_lack_change_tracking() -> None:
    from dataverse_emulator.cli import _config_from, build_parser

    parse = build_parser().parse_args
    assert _config_from(parse(["serve"])).tables_without_change_tracking == ("cdm_workeraddress",)
    assert _config_from(parse(["serve", "--untracked", ""])).tables_without_change_tracking == ()
    both = parse(["serve", "--untracked", "cdm_worker, cdm_job"])
    assert _config_from(both).tables_without_change_tracking == ("cdm_worker", "cdm_job")


def test_fidelity_settings_flags() -> None:
    from dataverse_emulator.cli import _config_from, build_parser

    parse = build_parser().parse_args
    default = _config_from(parse(["serve"]))
    assert (default.record_count_snapshot_max_age_seconds, default.access_token_leeway_seconds,
            default.expired_token_body, default.delta_token_mismatch) == (86400.0, 300.0, "error", "refuse")
    custom = _config_from(parse(["serve", "--record-count-snapshot-age", "0", "--token-leeway", "0",
                                 "--expired-token-body", "empty", "--delta-token-mismatch", "accept",
                                 "--token-fault-503", "0.5"]))
    assert (custom.record_count_snapshot_max_age_seconds, custom.access_token_leeway_seconds,
            custom.expired_token_body, custom.delta_token_mismatch) == (0.0, 0.0, "empty", "accept")
    assert custom.token_faults.rate_503 == 0.5 and custom.faults.rate_503 == 0.0
    with pytest.raises(SystemExit):
        _config_from(parse(["serve", "--token-fault-429", "2"]))

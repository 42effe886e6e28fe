"""docker-compose.yaml: valid for a real compose implementation, every setting in .env.example, and
the one source of truth of ``make stack`` (scripts/stack.py): a service or a setting in one and not
in the other fails here."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
import stack  # noqa: E402

COMPOSE_SERVICES = ("postgres", "redis", "airflow-apiserver", "airflow-scheduler", "airflow-dag-processor",
                    "airflow-worker", "airflow-triggerer", "airflow-init", "airflow-cli", "flower", "emulator")


def compose_cli() -> str:
    found = shutil.which("docker-compose")
    if not found:
        if os.environ.get("CI") == "true":
            pytest.fail("docker-compose is not installed (the Makefile's compose-tools target installs it)")
        pytest.skip("docker-compose is not installed: run `make compose-tools`")
    return found


def compose_config(path: Path, *profiles: str) -> subprocess.CompletedProcess[str]:
    args = [compose_cli(), "--env-file", str(ROOT / ".env.example"), "-f", str(path)]
    for profile in profiles:
        args += ["--profile", profile]
    return subprocess.run([*args, "config", "-q"], capture_output=True, text=True, timeout=60, cwd=ROOT, check=False)


@pytest.fixture(scope="module")
def plan(tmp_path_factory: pytest.TempPathFactory) -> stack.Plan:
    return stack.build_plan(tmp_path_factory.mktemp("stack"), scale=50, redis_db=14)


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yaml").read_text())


def test_docker_compose_config_validates_the_file() -> None:
    result = compose_config(ROOT / "docker-compose.yaml", "emulator", "flower", "debug")
    assert result.returncode == 0, result.stderr


def test_docker_compose_config_catches_a_broken_file(tmp_path: Path) -> None:
    """The validator really runs: a wrong depends_on condition is refused."""
    broken = (ROOT / "docker-compose.yaml").read_text().replace("service_completed_successfully", "finished", 1)
    (tmp_path / "docker-compose.yaml").write_text(broken)
    result = compose_config(tmp_path / "docker-compose.yaml")
    assert result.returncode != 0 and "condition" in result.stderr


def test_compose_has_the_services_of_the_official_topology(compose: dict) -> None:
    assert set(compose["services"]) == set(COMPOSE_SERVICES)
    common = compose["x-airflow-common"]
    assert common["build"] == {"context": ".", "target": "airflow"}
    assert "_PIP_ADDITIONAL_REQUIREMENTS" not in common["environment"]
    assert compose["services"]["emulator"]["build"]["target"] == "emulator"
    assert common["environment"]["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert compose["services"]["emulator"]["profiles"] == ["emulator"]
    assert compose["services"]["flower"]["profiles"] == ["flower"]
    assert "deploy_init" in " ".join(compose["services"]["airflow-init"]["command"])
    assert "FROM apache/airflow:3.3.2-python3.11" in (ROOT / "Dockerfile").read_text()


def test_every_compose_variable_is_in_env_example_and_back() -> None:
    used = stack.compose_variables()
    listed = set(stack.read_env_file())
    assert used - listed == set(), f"in docker-compose.yaml, not in .env.example: {sorted(used - listed)}"
    assert listed - used == set(), f"in .env.example, not used by docker-compose.yaml: {sorted(listed - used)}"


def test_make_stack_runs_every_compose_service_or_says_why_not(compose: dict, plan: stack.Plan) -> None:
    rehearsed = {p.service for p in plan.processes}
    assert rehearsed == set(stack.PROCESS_SERVICES)
    assert rehearsed | set(stack.MACHINE_SERVICES) | set(stack.SKIPPED_SERVICES) == set(compose["services"])
    assert [p.name for p in plan.processes if p.service == "airflow-worker"] == ["airflow-worker-1", "airflow-worker-2"]


def test_a_service_missing_from_make_stack_fails(tmp_path: Path, compose: dict) -> None:
    compose["services"]["airflow-worker-gpu"] = compose["services"]["airflow-worker"]
    with pytest.raises(stack.StackError, match="airflow-worker-gpu"):
        stack.check_services(compose["services"])
    del compose["services"]["airflow-worker-gpu"]
    del compose["services"]["airflow-triggerer"]
    with pytest.raises(stack.StackError, match="airflow-triggerer"):
        stack.check_services(compose["services"])


def test_each_process_gets_exactly_its_services_settings(plan: stack.Plan) -> None:
    """Settings: the compose service's environment, plus only what a container has without it."""
    compose = stack.load_compose(plan.settings)
    for proc in plan.processes:
        declared = set(stack.service_environment(compose["services"][proc.service]))
        assert set(proc.env) - declared == set(stack.REHEARSAL_ONLY), proc.name
        assert declared <= set(proc.env), proc.name


def test_each_process_runs_its_services_command(plan: stack.Plan) -> None:
    compose = stack.load_compose(plan.settings)
    for proc in plan.processes:
        command = stack.service_command(compose["services"][proc.service])
        assert len(proc.argv) >= len(command) and Path(proc.argv[0]).name in (command[0], Path(sys.executable).name)
        if proc.service != "airflow-worker":
            assert len(proc.argv) == len(command), proc.name
    api = plan.process("airflow-apiserver")
    assert api.argv[1:] == ["api-server", "--port", str(plan.ports[("airflow-apiserver", 8080)])]


def test_host_names_ports_and_paths_are_mapped(plan: stack.Plan) -> None:
    for proc in plan.processes:
        text = " ".join([*proc.argv, *proc.env.values()])
        assert "/opt/airflow" not in text, proc.name
        for host in ("@postgres", "@redis", "//airflow-apiserver", "//emulator", "0.0.0.0"):
            assert host not in text, (proc.name, host)
    worker = plan.process("airflow-worker-1").env
    api_port = plan.ports[("airflow-apiserver", 8080)]
    assert worker["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == f"http://127.0.0.1:{api_port}/execution/"
    assert worker["AIRFLOW__CELERY__BROKER_URL"] == "redis://:@127.0.0.1:6379/14"
    assert "@127.0.0.1:5432/" + plan.settings["HR_WAREHOUSE_DB"] in worker["AIRFLOW_CONN_HR_WAREHOUSE"]


def test_the_two_workers_share_nothing_on_disk_but_the_storage_url(plan: stack.Plan) -> None:
    one, two = plan.process("airflow-worker-1"), plan.process("airflow-worker-2")
    for key in ("AIRFLOW_HOME", "TMPDIR", "HR_SCRATCH_DIR", "HOSTNAME", "AIRFLOW__LOGGING__BASE_LOG_FOLDER",
                "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT"):
        assert one.env[key] != two.env[key], key
    assert one.argv[-1] == "celery@airflow-worker-1" and two.argv[-1] == "celery@airflow-worker-2"
    assert one.env["HR_REPORT_STORAGE_URL"] == two.env["HR_REPORT_STORAGE_URL"] == plan.process(
        "airflow-apiserver").env["HR_REPORT_STORAGE_URL"]
    assert not one.env["HR_REPORT_STORAGE_URL"].startswith(Path(one.env["AIRFLOW_HOME"]).as_uri())
    # Secrets every component must share are the same in every process.
    for key in ("AIRFLOW__CORE__FERNET_KEY", "AIRFLOW__API_AUTH__JWT_SECRET", "AIRFLOW__API__SECRET_KEY"):
        assert len({p.env[key] for p in plan.processes if key in p.env}) == 1, key


@pytest.mark.parametrize(("value", "expected"), [
    ("${A}", "1"), ("${A:-x}", "1"), ("${E:-x}", "x"), ("${E-x}", ""), ("${U-x}", "x"), ("${U:-x}", "x"),
    ("$$HOSTNAME", "$HOSTNAME"), ("a$A/b", "a1/b"), ("${U}", ""),
])
def test_interpolation_follows_compose(value: str, expected: str) -> None:
    assert stack.interpolate(value, {"A": "1", "E": ""}) == expected


def test_required_variable_is_named() -> None:
    with pytest.raises(stack.StackError, match="FERNET_KEY"):
        stack.interpolate("${FERNET_KEY:?set it}", {})

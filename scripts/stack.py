"""``make stack``: the services of ``docker-compose.yaml`` as local processes, read from the file itself.

No Docker engine here, so the compose topology is rehearsed with the machine's PostgreSQL and Redis:

* each service's ``command``/``entrypoint`` and ``environment`` come from the compose file, interpolated
  like compose does (``${VAR}``, ``${VAR:-default}``, ``$$``) from ``.env.example`` with this
  stack's own values on top (:func:`stack_settings`: unique database names, a Redis DB number,
  fresh secrets, the emulator's credentials, the report storage folder);
* service host names (``postgres``, ``redis``, ``airflow-apiserver``, ``emulator``) become 127.0.0.1,
  container ports become free local ports (PostgreSQL and Redis keep the machine's);
* ``/opt/airflow/...`` paths become a folder per process, except the compose bind mounts, which are
  shared by the processes that mount them (as the volumes are between containers); the image's
  code folder ``/opt/airflow/project`` is this checkout;
* ``airflow-worker`` runs twice (``--scale airflow-worker=2``), each with its own host name, Celery
  node name, log, working and scratch folders, so nothing reaches another process through the disk
  except the report storage URL.

What a container gives for free and a process does not is added here and nowhere else
(:data:`REHEARSAL_ONLY`); tests/deploy/test_compose.py checks that everything else in a process's
environment is in the compose file and the other way round.

    python scripts/stack.py up [--scale N] [--workdir DIR]     # runs until Ctrl-C, then tears down
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
COMPOSE_FILE = ROOT / "docker-compose.yaml"
ENV_EXAMPLE = ROOT / ".env.example"
BIN = Path(sys.executable).parent
IMAGE_HOME = "/opt/airflow"
IMAGE_CODE = "/opt/airflow/project"  # the Dockerfile copies the checkout here

# How each compose service is rehearsed. Every service of the file must be in exactly one of these.
MACHINE_SERVICES = {
    "postgres": "the machine's PostgreSQL: this stack's metadata database (created here) and warehouse database "
                "(created by airflow-init)",
    "redis": "the machine's Redis, on a database number of this stack",
}
SKIPPED_SERVICES = {
    "airflow-cli": "profile debug: an interactive airflow shell",
    "flower": "profile flower: optional Celery monitoring UI",
}
# Started in this order; the first two run before the others (emulator ready, init finished).
PROCESS_SERVICES = ("emulator", "airflow-init", "airflow-apiserver", "airflow-scheduler",
                    "airflow-dag-processor", "airflow-triggerer", "airflow-worker")
ONE_SHOT = {"airflow-init"}
REPLICAS = {"airflow-worker": 2}
# Host names of services that listen, and the ports they listen on inside their containers.
LISTENERS = {"postgres": (5432,), "redis": (6379,), "airflow-apiserver": (8080,), "emulator": (8443,)}
MACHINE_PORTS = {("postgres", 5432): 5432, ("redis", 6379): 6379}
# Settings whose value is a port the process itself listens on: a free port per process here.
OWN_PORT_SETTINGS = ("AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT",
                     "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT", "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT")
# What a container has without the compose file saying so: the image's ENV, its own /tmp and host name.
REHEARSAL_ONLY = {
    "AIRFLOW_HOME": "the image's AIRFLOW_HOME (/opt/airflow), one folder per process",
    "TMPDIR": "the container's own /tmp",
    "HOSTNAME": "the container's host name (airflow-worker-1, -2 as with --scale)",
    "PATH": "the image's PATH (the venv's bin first)",
    "HOME": "the image user's home",
    "LANG": "the image's locale",
    "PYTHONUNBUFFERED": "logs in order",
}
REDIS_DB_DEFAULT = 14
STARTUP_TIMEOUT = 240.0


class StackError(Exception):
    """A service did not start; the message names it and its log."""


# --- reading the compose file ----------------------------------------------------------------------

_VAR = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)")


def interpolate(value: str, env: Mapping[str, str]) -> str:
    """Compose's variable substitution: ``$$``, ``$VAR``, ``${VAR}``, ``${VAR:-default}``,
    ``${VAR-default}``, ``${VAR:?error}``."""
    def repl(m: re.Match[str]) -> str:
        if m.group(0) == "$$":
            return "$"
        name = m.group(1) or m.group(4)
        op, arg = m.group(2), m.group(3) or ""
        current = env.get(name)
        if op in (":-", "-"):
            return current if (current if op == ":-" else current is not None) else arg
        if op in (":?", "?") and not current:
            raise StackError(f"compose variable {name} is required: {arg}")
        return current or ""
    return _VAR.sub(repl, value)


def load_compose(env: Mapping[str, str], path: Path = COMPOSE_FILE) -> dict[str, Any]:
    """The compose file with anchors merged and every string interpolated from ``env``."""
    def walk(node: Any) -> Any:
        if isinstance(node, str):
            return interpolate(node, env)
        if isinstance(node, list):
            return [walk(n) for n in node]
        if isinstance(node, dict):
            return {k: walk(v) for k, v in node.items()}
        return node
    return walk(yaml.safe_load(path.read_text()))


def read_env_file(path: Path = ENV_EXAMPLE) -> dict[str, str]:
    """``KEY=value`` lines (comments and blanks skipped), as compose reads ``.env``."""
    values: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def compose_variables(path: Path = COMPOSE_FILE) -> set[str]:
    """Every variable the compose file interpolates."""
    return {m.group(1) or m.group(4) for m in _VAR.finditer(path.read_text()) if m.group(0) != "$$"}


def service_command(service: dict[str, Any]) -> list[str]:
    """``entrypoint`` + ``command`` as an argument list (the official image runs ``airflow <command>``
    unless the command starts with bash or python)."""
    def split(value: Any) -> list[str]:
        if value is None:
            return []
        return shlex.split(value) if isinstance(value, str) else [str(v) for v in value]
    entry, command = split(service.get("entrypoint")), split(service.get("command"))
    if entry:
        return [Path(entry[0]).name, *entry[1:], *command]
    if command and command[0] in ("bash", "python"):
        return command
    return ["airflow", *command]


def service_environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {k: "" if v is None else str(v) for k, v in env.items()}


def bind_mounts(service: dict[str, Any]) -> dict[str, str]:
    """Container path -> host path (relative to the project) of the service's bind mounts."""
    mounts = {}
    for volume in service.get("volumes") or []:
        source, _, target = str(volume).partition(":")
        if source.startswith((".", "/")):
            mounts[target.split(":")[0]] = source
    return mounts


# --- the plan --------------------------------------------------------------------------------------


@dataclass
class Process:
    name: str  # the instance: the service name, or <service>-<n> for a scaled one
    service: str
    argv: list[str]
    env: dict[str, str]
    home: Path
    ports: dict[str, int] = field(default_factory=dict)
    mounts: dict[str, str] = field(default_factory=dict)  # container path -> shared host folder


def check_services(services: Mapping[str, Any]) -> None:
    """Every compose service is rehearsed (or skipped, with a reason) and every rehearsed one exists."""
    handled = [*MACHINE_SERVICES, *SKIPPED_SERVICES, *PROCESS_SERVICES]
    missing = sorted(set(services) - set(handled))
    unknown = sorted(set(handled) - set(services))
    if missing or unknown or len(handled) != len(set(handled)):
        raise StackError(f"docker-compose.yaml and scripts/stack.py disagree: services not rehearsed {missing}, "
                         f"rehearsed but not in the compose file {unknown}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Plan:
    workdir: Path
    settings: dict[str, str]
    ports: dict[tuple[str, int], int]
    processes: list[Process]

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.ports[('airflow-apiserver', 8080)]}"

    def process(self, name: str) -> Process:
        return next(p for p in self.processes if p.name == name)


def stack_settings(workdir: Path, *, scale: int, redis_db: int) -> dict[str, str]:
    """This stack's ``.env``: ``.env.example`` with the values a local rehearsal needs on top."""
    from cryptography.fernet import Fernet

    tag = f"{os.getpid()}_{secrets.token_hex(3)}"
    values = read_env_file()
    values.update({
        "POSTGRES_USER": "postgres", "POSTGRES_PASSWORD": "", "AIRFLOW_DB": f"hr_stack_meta_{tag}",
        "HR_WAREHOUSE_DB": f"hr_stack_wh_{tag}", "REDIS_DB": str(redis_db), "REDIS_PASSWORD": "",
        "FERNET_KEY": Fernet.generate_key().decode(), "AIRFLOW_JWT_SECRET": secrets.token_urlsafe(32),
        "AIRFLOW_API_SECRET_KEY": secrets.token_urlsafe(32), "_AIRFLOW_WWW_USER_USERNAME": "admin",
        "_AIRFLOW_WWW_USER_PASSWORD": secrets.token_urlsafe(12), "AIRFLOW_WORKER_CONCURRENCY": "2",
        "DATAVERSE_TENANT_ID": str(uuid.uuid4()), "DATAVERSE_CLIENT_ID": str(uuid.uuid4()),
        "DATAVERSE_CLIENT_SECRET": "Stk~" + secrets.token_urlsafe(27),
        "HR_DATAVERSE_SYNC_SCHEDULE": "none", "EMULATOR_SCALE": str(scale),
        # The shared storage stand-in: a folder no process has as its own (an object store in production).
        "HR_REPORT_STORAGE_URL": (workdir / "storage").resolve().as_uri(),
    })
    return values


def build_plan(workdir: Path, *, scale: int = 200, redis_db: int = REDIS_DB_DEFAULT,
               settings: dict[str, str] | None = None) -> Plan:
    """Every process of the stack with its argv and environment, from the compose file."""
    workdir = workdir.resolve()
    settings = settings if settings is not None else stack_settings(workdir, scale=scale, redis_db=redis_db)
    compose = load_compose(settings)
    services = compose["services"]
    check_services(services)
    ports: dict[tuple[str, int], int] = dict(MACHINE_PORTS)
    for svc, container_ports in LISTENERS.items():
        for port in container_ports:
            ports.setdefault((svc, port), free_port())
    processes = []
    for svc in PROCESS_SERVICES:
        count = REPLICAS.get(svc, 1)
        for n in range(1, count + 1):
            name = f"{svc}-{n}" if count > 1 else svc
            processes.append(_process(workdir, name, svc, services[svc], ports))
    return Plan(workdir, settings, ports, processes)


def _process(workdir: Path, name: str, svc: str, service: dict[str, Any], ports: dict[tuple[str, int], int]) -> Process:
    home = workdir / name
    mounts = {target: str((workdir / "mounts" / source.lstrip("./")).resolve())
              for target, source in bind_mounts(service).items()}

    def local(text: str) -> str:
        text = _map_paths(text, home, mounts)
        text = _map_hosts(text, ports)
        return text.replace("0.0.0.0", "127.0.0.1")

    env = {k: local(v) for k, v in service_environment(service).items()}
    own_ports = {}
    for key in OWN_PORT_SETTINGS:
        if key in env:
            own_ports[key] = free_port()
            env[key] = str(own_ports[key])
    argv = [local(a) for a in service_command(service)]
    for i, arg in enumerate(argv[:-1]):  # the service's own listening port
        if arg == "--port" and (svc, int(argv[i + 1])) in ports:
            argv[i + 1] = str(ports[(svc, int(argv[i + 1]))])
    if argv[0] == "airflow":
        argv[0] = str(BIN / "airflow")
    elif argv[0] == "python":
        argv[0] = sys.executable
    if svc in REPLICAS:  # as a scaled container: its own host name, hence its own Celery node name
        argv += ["--celery-hostname", f"celery@{name}"]
    env.update({
        "AIRFLOW_HOME": str(home), "TMPDIR": str(home / "tmp"), "HOSTNAME": name,
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}",
        "HOME": os.environ.get("HOME", str(home)), "LANG": os.environ.get("LANG", "C.UTF-8"),
        "PYTHONUNBUFFERED": "1",
    })
    return Process(name, svc, argv, env, home, own_ports, mounts)


def _map_paths(text: str, home: Path, mounts: dict[str, str]) -> str:
    def repl(m: re.Match[str]) -> str:
        path = m.group(0)
        if path == IMAGE_CODE or path.startswith(IMAGE_CODE + "/"):
            return str(ROOT) + path[len(IMAGE_CODE):]
        for target, source in sorted(mounts.items(), key=lambda kv: -len(kv[0])):
            if path == target or path.startswith(target + "/"):
                return source + path[len(target):]
        return str(home) + path[len(IMAGE_HOME):]
    return re.sub(r"/opt/airflow(?:/[^\s\"',;]*)?", repl, text)


def _map_hosts(text: str, ports: dict[tuple[str, int], int]) -> str:
    names = "|".join(re.escape(s) for s in sorted(LISTENERS, key=len, reverse=True))

    def repl(m: re.Match[str]) -> str:
        svc, port = m.group(1), m.group(2)
        if port is None:
            return "127.0.0.1"
        return f"127.0.0.1:{ports.get((svc, int(port)), int(port))}"
    # A host name stands alone or before :<port>; never the user part of a URL ("postgres:@...").
    return re.sub(rf"(?<![\w.-])({names})(?::(\d+))?(?![\w.:@-])", repl, text)


# --- running it ----------------------------------------------------------------------------------


class Stack:
    """Starts the plan's processes (with the databases they need) and tears everything down on exit."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.running: dict[str, subprocess.Popen[bytes]] = {}
        self.logs: dict[str, Path] = {}

    @property
    def admin(self) -> tuple[str, str]:
        return self.plan.settings["_AIRFLOW_WWW_USER_USERNAME"], self.plan.settings["_AIRFLOW_WWW_USER_PASSWORD"]

    def emulator_info(self) -> dict[str, Any]:
        return json.loads(self._info_file().read_text())

    def _info_file(self) -> Path:
        argv = self.plan.process("emulator").argv
        return Path(argv[argv.index("--info-file") + 1])

    def start(self) -> None:
        self._databases(create=True)
        for proc in self.plan.processes:
            for folder in (proc.home, proc.home / "tmp", *map(Path, proc.mounts.values())):
                folder.mkdir(parents=True, exist_ok=True)
        for proc in self.plan.processes:
            self._launch(proc)
            if proc.service == "emulator":
                self._wait(proc, lambda: self._info_file().is_file() and self._info_file().read_text().strip())
            elif proc.service in ONE_SHOT:
                self._wait_exit(proc)
            elif proc.service == "airflow-apiserver":
                self._wait(proc, lambda: _http_ok(f"{self.plan.api_url}/api/v2/monitor/health"))
        for proc in self.plan.processes:
            if proc.service == "airflow-worker":
                self._wait(proc, lambda p=proc: b" ready." in self.logs[p.name].read_bytes())
            elif proc.service == "airflow-scheduler":
                port = proc.ports["AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT"]
                self._wait(proc, lambda port=port: _http_ok(f"http://127.0.0.1:{port}/health"))

    def stop(self) -> None:
        for popen in reversed(list(self.running.values())):
            if popen.poll() is None:
                with suppress(ProcessLookupError):
                    os.killpg(popen.pid, signal.SIGTERM)
        deadline = time.monotonic() + 30
        for popen in self.running.values():
            try:
                popen.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with suppress(ProcessLookupError):
                    os.killpg(popen.pid, signal.SIGKILL)
                popen.wait()
        for popen in self.running.values():  # task processes a worker left behind in its group
            with suppress(ProcessLookupError):
                os.killpg(popen.pid, signal.SIGKILL)
        self._databases(create=False)

    def _launch(self, proc: Process) -> None:
        log = self.plan.workdir / "logs" / f"{proc.name}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        self.logs[proc.name] = log
        with log.open("wb") as out:
            self.running[proc.name] = subprocess.Popen(proc.argv, env=proc.env, cwd=proc.home, stdout=out,
                                                       stderr=subprocess.STDOUT, start_new_session=True)

    def _wait(self, proc: Process, ready: Any, timeout: float = STARTUP_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while not ready():
            if self.running[proc.name].poll() is not None:
                raise StackError(f"{proc.name} exited with code {self.running[proc.name].returncode}; "
                                 f"see {self.logs[proc.name]}:\n{_tail(self.logs[proc.name])}")
            if time.monotonic() > deadline:
                raise StackError(f"{proc.name} was not ready within {timeout:.0f} s; see {self.logs[proc.name]}")
            time.sleep(0.5)

    def _wait_exit(self, proc: Process, timeout: float = STARTUP_TIMEOUT) -> None:
        try:
            code = self.running[proc.name].wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise StackError(f"{proc.name} did not finish within {timeout:.0f} s; see {self.logs[proc.name]}") from None
        if code != 0:
            raise StackError(f"{proc.name} failed (exit code {code}); see {self.logs[proc.name]}:\n"
                             f"{_tail(self.logs[proc.name])}")

    def _databases(self, *, create: bool) -> None:
        """The postgres service's part: the metadata database; on teardown both databases go, and
        this stack's Redis database is emptied."""
        import redis
        import sqlalchemy as sa

        s = self.plan.settings
        engine = sa.create_engine("postgresql+psycopg2://postgres@127.0.0.1:5432/postgres", isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as conn:
                if create:
                    conn.execute(sa.text(f'CREATE DATABASE "{s["AIRFLOW_DB"]}"'))
                else:
                    for db in (s["AIRFLOW_DB"], s["HR_WAREHOUSE_DB"]):
                        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)'))
        finally:
            engine.dispose()
        redis.Redis(host="127.0.0.1", port=6379, db=int(s["REDIS_DB"])).flushdb()


@contextmanager
def running_stack(plan: Plan) -> Iterator[Stack]:
    stack = Stack(plan)
    try:
        stack.start()
        yield stack
    finally:
        stack.stop()


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status == 200
    except OSError:
        return False


def _tail(path: Path, lines: int = 25) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["up", "plan"])
    parser.add_argument("--scale", type=int, default=200, help="HR workers in the emulator (default 200)")
    parser.add_argument("--workdir", type=Path, default=ROOT / ".stack" / "up")
    parser.add_argument("--redis-db", type=int, default=REDIS_DB_DEFAULT)
    args = parser.parse_args(argv)
    plan = build_plan(args.workdir, scale=args.scale, redis_db=args.redis_db)
    if args.command == "plan":
        for proc in plan.processes:
            print(f"{proc.name}: {shlex.join(proc.argv)}")
        return 0
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        with running_stack(plan) as stack:
            user, password = stack.admin
            print(f"stack up: {plan.api_url} (user {user}, password {password}); logs in {plan.workdir / 'logs'}; "
                  "Ctrl-C stops it", flush=True)
            while all(p.poll() is None for n, p in stack.running.items() if n not in ONE_SHOT):
                time.sleep(1)
            print("a service exited; stopping the stack", file=sys.stderr)
            return 1
    except KeyboardInterrupt:
        return 0
    except StackError as exc:
        print(f"STACK FAILED: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())

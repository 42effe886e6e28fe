"""``make bench``: ``python -m bench.run [options]`` (``--help`` lists them).

Per backend it starts the emulator (a separate process, latency model and service protection on),
then for each run kind prints one JSON line:

* ``peer-sequential`` / ``peer-parallel``: Microsoft's Python SDK reading every catalog table one at
  a time / ``pool`` tables at a time, no change tracking, no warehouse (``bench/peer_sdk.py`` in its
  own virtual environment, ``bench/peer_venv.py``); once per scale, with the first backend;
* ``sequential`` (one request at a time, the way the open-source peers read), ``full`` (tables in
  parallel within the pool, key ranges within large tables);
* ``delta`` (after ``--change-fraction`` of the rows changed) and ``nochange`` (a delta right after
  the delta, nothing changed): the scheduled ``auto`` sync.

Lines are also appended to ``<out>/bench-<rows>.jsonl``; the chart and a Markdown summary row per
backend (``bench-<rows>-summary.md``) go next to them (the chart is also copied to ``--chart-copy``).

The bound of a run (``bench/bound.py``) is max(the server time the latency model charged its
requests ÷ the concurrency the run was allowed (the floor; the pool, 1 for ``sequential``), the
longest change-tracking page chain's server time). ``cpu_floor_s`` is what this machine's CPUs
allow: the emulator is one Python process (one core at most), the loader another.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from dataverse_provider.environment import configured_catalog

from . import peer_venv, profiling
from .bound import run_bound
from .chart import write_chart
from .emulator_process import EmulatorError, EmulatorProcess
from .settings import BACKENDS, DEFAULT_POSTGRES_URL, PEER_KINDS, RUN_KINDS, BenchSettings
from .summary import summary_table
from .targets import Target, target_for

ROOT = Path(__file__).resolve().parents[1]
LOADER_TIMEOUT_S = 4 * 3600


class BenchError(RuntimeError):
    """A run could not be measured (the loader crashed or printed no result)."""


def parse_args(argv: list[str]) -> BenchSettings:
    p = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    d = BenchSettings()
    p.add_argument("--rows", type=int, default=d.rows, help="rows in the HR data set (default %(default)s)")
    p.add_argument("--backends", default=" ".join(d.backends), help=f"space/comma list of {', '.join(BACKENDS)}")
    p.add_argument("--runs", default=" ".join(d.runs), help=f"space/comma list of {', '.join(RUN_KINDS)}, in order")
    p.add_argument("--latency-ms", type=float, default=d.latency_ms, help="server time per request")
    p.add_argument("--latency-per-row-ms", type=float, default=d.latency_per_row_ms, help="server time per row")
    p.add_argument("--protection", default=d.protection, help="service-protection profile: default, hr, off")
    p.add_argument("--dop-hint", type=int, default=d.dop_hint, help="x-ms-dop-hint the emulator returns")
    p.add_argument("--max-concurrency", type=int, default=d.max_concurrency, help="the connection's max_concurrency")
    p.add_argument("--pool", type=int, help="pool slots (default: min(max-concurrency, dop-hint))")
    p.add_argument("--partition-slots", type=int, default=d.partition_slots,
                   help="slots of a large-table load (default %(default)s, at most the pool)")
    p.add_argument("--untracked", default=" ".join(d.untracked),
                   help="space/comma list of tables served without change tracking (default: none)")
    p.add_argument("--fault-429", type=float, default=d.fault_429,
                   help="share of requests answered 429 with Retry-After 1 s (default %(default)s)")
    p.add_argument("--change-fraction", type=float, default=d.change_fraction, help="rows changed before the delta")
    p.add_argument("--delete-share", type=float, default=d.delete_share, help="share of the changes that delete")
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--out", type=Path, default=d.out_dir, help="results folder (default %(default)s)")
    p.add_argument("--chart-copy", default=str(d.chart_copy_dir), help="also copy the chart here ('' = no copy)")
    p.add_argument("--postgres-url", default=os.environ.get("HR_BENCH_POSTGRES_URL", DEFAULT_POSTGRES_URL))
    p.add_argument("--postgres-schema", default=d.postgres_schema, help="dedicated schema, dropped before each run")
    p.add_argument("--profile", action="store_true", help="py-spy the loader and the emulator during each run")
    p.add_argument("--peer-venv", type=Path, default=d.peer_venv,
                   help="virtual environment of the peer SDK, created on first use (default %(default)s)")
    p.add_argument("--malloc-arena-max", type=int, default=d.malloc_arena_max,
                   help="MALLOC_ARENA_MAX for the loader (0 = leave glibc's default)")
    a = p.parse_args(argv)
    try:
        return BenchSettings(
            rows=a.rows, backends=_names(a.backends), runs=_names(a.runs), latency_ms=a.latency_ms,
            latency_per_row_ms=a.latency_per_row_ms, protection=a.protection, dop_hint=a.dop_hint,
            max_concurrency=a.max_concurrency, pool=a.pool, partition_slots=a.partition_slots, fault_429=a.fault_429,
            untracked=_names(a.untracked),
            change_fraction=a.change_fraction, delete_share=a.delete_share, seed=a.seed, out_dir=a.out,
            chart_copy_dir=Path(a.chart_copy) if a.chart_copy else None, postgres_url=a.postgres_url,
            postgres_schema=a.postgres_schema, profile=a.profile, peer_venv=a.peer_venv,
            malloc_arena_max=a.malloc_arena_max,
        )
    except ValueError as exc:
        p.error(str(exc))
        raise  # unreachable: p.error exits


def _names(text: str) -> tuple[str, ...]:
    return tuple(n for n in text.replace(",", " ").split() if n)


def main(argv: list[str] | None = None) -> int:
    settings = parse_args(sys.argv[1:] if argv is None else argv)
    if settings.profile:
        try:
            profiling.py_spy()
        except profiling.ProfilerMissing as exc:
            _note(f"bench: {exc}")
            return 2
    out = settings.out_dir
    out.mkdir(parents=True, exist_ok=True)
    results = out / f"bench-{settings.rows}.jsonl"
    results.write_text("")
    _note(f"bench: {settings.rows:,} rows ({settings.workers:,} HR workers), backends {' '.join(settings.backends)}, "
          f"runs {' '.join(settings.runs)}, pool {settings.pool_slots} (large tables {settings.large_table_slots}), "
          f"latency {settings.latency_ms:g} ms + {settings.latency_per_row_ms:g} ms/row, "
          f"protection {settings.protection}, dop hint {settings.dop_hint}, "
          f"untracked tables: {' '.join(settings.untracked) or 'none'}")
    lines: list[dict[str, Any]] = []
    for backend in settings.backends:
        for line in bench_backend(settings, target_for(backend, settings)):
            lines.append(line)
            print(json.dumps(line), flush=True)
            with results.open("a") as fh:
                fh.write(json.dumps(line) + "\n")
    chart = write_chart({settings.rows: lines}, out / f"bench-{settings.rows}.png",
                        f"HR sync, {settings.rows:,} rows, {os.cpu_count()} cores, "
                        f"latency {settings.latency_ms:g} ms + {settings.latency_per_row_ms:g} ms/row")
    if chart is not None and settings.chart_copy_dir is not None:
        settings.chart_copy_dir.mkdir(parents=True, exist_ok=True)
        shutil.copy(chart, settings.chart_copy_dir / chart.name)
    table = summary_table(lines, settings.rows)
    (out / f"bench-{settings.rows}-summary.md").write_text(table)
    _note(table)
    _note(f"bench: results in {results}" + (f", chart {chart}" if chart else ""))
    failed = [line for line in lines if line.get("error") or line.get("tables_failed")]
    return 1 if failed else 0


def bench_backend(settings: BenchSettings, target: Target) -> Iterator[dict[str, Any]]:
    """The JSON lines of one backend's runs, each as soon as it is measured."""
    problem = target.problem()
    if problem:
        _note(f"bench: skipping {target.backend}: {problem}")
        yield {"backend": target.backend, "run": None, "skipped": problem}
        return
    emulator = EmulatorProcess(settings, settings.out_dir / "emulator", settings.out_dir / f"emulator-{target.backend}.log")
    started = time.monotonic()
    try:
        emulator.start()
    except EmulatorError as exc:
        yield {"backend": target.backend, "run": None, "error": str(exc)}
        return
    try:
        _note(f"bench: {target.backend}: emulator ready in {time.monotonic() - started:.1f} s "
              f"({emulator.rss_mb():,.0f} MB)")
        full_wall = None
        for kind in settings.runs:
            if kind in PEER_KINDS and target.backend != settings.backends[0]:
                continue  # the peers load no warehouse: once per scale is enough
            try:
                line = measure(kind, settings, emulator, target)
            except (BenchError, EmulatorError, peer_venv.PeerUnavailable) as exc:
                yield {"backend": target.backend, "run": kind, "error": str(exc)}
                continue
            # The emulator's own cost at this scale: memory now, CPU per row it served in this run.
            line["emulator_rss_mb"] = round(emulator.rss_mb())
            if line.get("rows_returned"):
                line["emulator_cpu_us_per_row"] = round(1e6 * line["emulator_cpu_s"] / line["rows_returned"], 1)
            if kind == "full":
                full_wall = line["wall_s"]
            elif kind in ("delta", "nochange") and full_wall:
                line["pct_of_full"] = round(100 * line["wall_s"] / full_wall, 1)
            yield line
    finally:
        emulator.stop()


def measure(kind: str, settings: BenchSettings, emulator: EmulatorProcess, target: Target) -> dict[str, Any]:
    specs = [s for s in configured_catalog() if not s.fno_entity]  # what bench.loader syncs
    if kind in PEER_KINDS:
        return measure_peer(kind, settings, emulator, specs)
    changes = None
    if kind == "delta":
        changes = emulator.bulk_changes([s.name for s in specs], settings.change_fraction, settings.delete_share,
                                        settings.seed)
    elif kind != "nochange":
        target.reset()
    sequential = kind == "sequential"
    pool = 1 if sequential else settings.pool_slots
    args = {
        "info": emulator.info, "url": target.url, "schema": target.schema,
        "mode": "auto" if kind in ("delta", "nochange") else "full",
        "run_id": f"bench-{kind}-{int(time.time())}", "pool": pool,
        "large_slots": 1 if sequential else settings.large_table_slots, "max_concurrency": settings.max_concurrency,
    }
    before, cpu_before = emulator.request_totals(), emulator.cpu_seconds()
    tag = f"{settings.rows}-{target.backend}-{kind}"
    result = run_loader(args, settings, tag, emulator.pid if settings.profile else None)
    after, emulator_cpu = emulator.request_totals(), emulator.cpu_seconds() - cpu_before
    return run_line(kind, target.backend, settings, pool, result, before, after, emulator_cpu, changes, specs)


def measure_peer(kind: str, settings: BenchSettings, emulator: EmulatorProcess, specs: list[Any]) -> dict[str, Any]:
    """Microsoft's SDK reading the catalog's tables (bench/peer_sdk.py in its own environment)."""
    python = peer_venv.ensure(settings.peer_venv.resolve())
    workers = 1 if kind == "peer-sequential" else settings.pool_slots
    args = {"info": emulator.info, "tables": [s.name for s in specs], "workers": workers, "page_size": 5000}
    before, cpu_before = emulator.request_totals(), emulator.cpu_seconds()
    tag = f"{settings.rows}-{kind}"
    result = run_child([str(python), str(ROOT / "bench" / "peer_sdk.py"), json.dumps(args)], settings, tag, None)
    after, emulator_cpu = emulator.request_totals(), emulator.cpu_seconds() - cpu_before
    wall = result["wall_seconds"]
    rows = sum(t["rows"] for t in result["tables"])
    required = {s.name for s in specs if s.required}
    return {
        "backend": "none", "run": kind, "workers": settings.workers, "rows": rows,
        "wall_s": wall, "rows_per_s": round(rows / wall, 2) if wall else None,
        "http_requests": after["total"] - before["total"], "pages": sum(t["pages"] for t in result["tables"]),
        "rows_returned": after["rows"] - before["rows"],
        "http_429": int(after["by_status"].get("429", 0)) - int(before["by_status"].get("429", 0)),
        "peak_rss_mb": result["peak_rss_mb"], "concurrency": workers,
        "server_latency_s": round(after["latency_seconds"] - before["latency_seconds"], 2),
        **run_bound(before, after, workers).fields(wall),
        "loader_cpu_s": result["cpu_seconds"], "emulator_cpu_s": round(emulator_cpu, 1),
        "peer": peer_venv.PEER_REQUIREMENT,
        "tables_failed": [t["table"] for t in result["tables"] if t["error"] and t["table"] in required],
        "tables_skipped_optional": [t["table"] for t in result["tables"] if t["error"] and t["table"] not in required],
    }


def run_loader(args: dict[str, Any], settings: BenchSettings, tag: str, profile_pid: int | None) -> dict[str, Any]:
    """Run ``bench.loader`` as a child process; its last stdout line is the result."""
    return run_child([sys.executable, "-m", "bench.loader", json.dumps(args)], settings, tag, profile_pid)


def run_child(command: list[str], settings: BenchSettings, tag: str, profile_pid: int | None) -> dict[str, Any]:
    """Run a loading child process (py-spy around it with ``profile_pid``); its last stdout line is the result."""
    out = settings.out_dir
    recorders = []
    if profile_pid is not None:
        command = [profiling.py_spy(), "record", "--format", "raw", "--rate", "100", "--nonblocking",
                   "--output", str(out / f"profile-{tag}-loader.txt"), "--", *command]
        recorders.append(profiling.attach(profile_pid, out / f"profile-{tag}-emulator.txt"))
    _note(f"bench: {tag}: loading …")
    with (out / f"loader-{tag}.log").open("w") as log:
        try:
            proc = subprocess.run(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=log, text=True,
                                  timeout=LOADER_TIMEOUT_S, check=False, env=loader_env(settings))
        finally:
            for recorder in recorders:
                profiling.finish(recorder)
    if profile_pid is not None:
        for part in ("loader", "emulator"):
            raw = out / f"profile-{tag}-{part}.txt"
            if raw.exists():
                (out / f"profile-{tag}-{part}-top.txt").write_text(profiling.summarise(raw))
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise BenchError(f"the loader exited with {proc.returncode} and no result; see {out / f'loader-{tag}.log'}")
    (out / f"loader-{tag}.json").write_text(lines[-1] + "\n")  # per-table details, for "where the time goes"
    return json.loads(lines[-1])


def loader_env(settings: BenchSettings) -> dict[str, str]:
    """The loader's environment: ours, plus ``MALLOC_ARENA_MAX`` when set (see BenchSettings)."""
    env = dict(os.environ)
    if settings.malloc_arena_max:
        env["MALLOC_ARENA_MAX"] = str(settings.malloc_arena_max)
    return env


def run_line(kind: str, backend: str, settings: BenchSettings, pool: int, result: dict[str, Any],
             before: dict[str, Any], after: dict[str, Any], emulator_cpu: float, changes: dict[str, Any] | None,
             specs: list[Any]) -> dict[str, Any]:
    """The JSON line of one run (see README "Performance" for every field)."""
    required = {s.name for s in specs if s.required}
    tables = result["tables"]
    failed = [t for t in tables if t["status"] == "failed"]
    rows = sum(t["rows_upserted"] + t["rows_deleted"] for t in tables)
    wall = result["wall_seconds"]
    requests = after["total"] - before["total"]
    latency = after["latency_seconds"] - before["latency_seconds"]
    loader_cpu = result["cpu_seconds"]
    cpu_floor = max(emulator_cpu, loader_cpu, (emulator_cpu + loader_cpu) / (os.cpu_count() or 1))
    line: dict[str, Any] = {
        "backend": backend, "run": kind, "workers": settings.workers, "rows": rows,
        "untracked_tables": list(settings.untracked),
        "wall_s": wall, "rows_per_s": round(rows / wall, 2) if wall else None,
        "http_requests": requests, "pages": sum(t["pages"] for t in tables),
        "rows_returned": after["rows"] - before["rows"],
        "http_429": int(after["by_status"].get("429", 0)) - int(before["by_status"].get("429", 0)),
        "client_retries": result["client"]["retries"], "client_wait_s": round(result["client"]["wait_seconds"], 1),
        "peak_rss_mb": result["peak_rss_mb"],
        "server_latency_s": round(latency, 2), "concurrency": pool,
        "concurrency_rule": "1 (one request at a time)" if pool == 1 else
        f"pool = min(max_concurrency {settings.max_concurrency}, x-ms-dop-hint {settings.dop_hint})"
        if settings.pool is None else "pool (set with --pool)",
        **run_bound(before, after, pool).fields(wall),
        "loader_cpu_s": loader_cpu, "emulator_cpu_s": round(emulator_cpu, 1), "cpu_floor_s": round(cpu_floor, 1),
        "rows_full_every_run": sum(t["rows_upserted"] for t in tables if t["mode_used"] == "full_every_run"),
        # When the change-tracked tables were done: a delta's real cost, without untracked full reloads.
        "tracked_done_s": round(max((t["started_s"] + t["seconds"] for t in tables
                                     if t["mode_used"] != "full_every_run" and t["status"] != "failed"), default=0), 1),
        "modes": sorted({t["mode_used"] for t in tables if t["status"] != "failed"}),
        "tables_failed": [t["table"] for t in failed if t["table"] in required],
        "tables_skipped_optional": [t["table"] for t in failed if t["table"] not in required],
    }
    if changes is not None:
        line["changes_applied"] = changes["total"]
    return line


def _note(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


if __name__ == "__main__":
    raise SystemExit(main())

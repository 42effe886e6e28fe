"""The end-of-run summary: one Markdown row per backend of one scale, as the README's table has it.

``python -m bench.summary .bench/bench-1000000.jsonl [more .jsonl ...]`` prints it from stored results.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

HEADER = ("| rows | backend | full wall s | bound s | wall / bound | longest chain s | SDK sequential s "
          "| SDK 5 at a time s | our sequential s | peak RSS MB (full) | delta s (% of full, requests) "
          "| no-change s (requests) |\n|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|\n")


def _num(value: Any, digits: int = 1) -> str:
    return "—" if value is None else f"{value:,.{digits}f}"


def _incremental(line: dict[str, Any] | None, with_pct: bool) -> str:
    if not line or "wall_s" not in line:
        return "—"
    pct = f"{line['pct_of_full']:.1f}%, " if with_pct and line.get("pct_of_full") is not None else ""
    return f"{line['wall_s']:.2f} ({pct}{line['http_requests']} req)"


def summary_rows(lines: list[dict[str, Any]], rows: int) -> list[str]:
    """One row per backend that has a full run; the peers (backend ``none``) fill every row."""
    runs = {(line.get("backend"), line.get("run")): line for line in lines if "wall_s" in line}
    peers = {kind: runs.get(("none", kind), {}).get("wall_s") for kind in ("peer-sequential", "peer-parallel")}
    out = []
    for backend in dict.fromkeys(b for b, _ in runs if b != "none"):
        full = runs.get((backend, "full"), {})
        out.append("| " + " | ".join([
            f"{rows:,}", backend, _num(full.get("wall_s")), _num(full.get("bound_s")),
            _num(full.get("wall_over_bound"), 2),
            f"{_num(full.get('chain_s'))} ({full.get('chain_table') or '—'})",
            _num(peers["peer-sequential"]), _num(peers["peer-parallel"]),
            _num(runs.get((backend, "sequential"), {}).get("wall_s")), _num(full.get("peak_rss_mb"), 0),
            _incremental(runs.get((backend, "delta")), True), _incremental(runs.get((backend, "nochange")), False),
        ]) + " |")
    return out


def summary_table(lines: list[dict[str, Any]], rows: int) -> str:
    return HEADER + "".join(row + "\n" for row in summary_rows(lines, rows))


def main(argv: list[str]) -> int:
    if not argv:
        print("usage: python -m bench.summary <results .jsonl> ...", file=sys.stderr)
        return 2
    body = []
    for name in argv:
        path = Path(name)
        lines = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        body += summary_rows(lines, int(path.stem.split("-")[1]))
    print(HEADER + "".join(row + "\n" for row in body), end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

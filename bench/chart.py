"""The results chart, per scale: wall time of our full load against its bound and the peers, and peak
RSS of each loading process.

``python -m bench.chart .bench/bench-100000.jsonl .bench/bench-1000000.jsonl [--out chart.png]``
redraws it from stored results (one scale per file; default output next to the last file).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

RSS_TARGET_MB = 300
# (label, backend or None for any, run, field): the bars of one scale, left to right.
WALL_BARS = [("bound", "sqlite", "full", "bound_s"), ("ours, SQLite", "sqlite", "full", "wall_s"),
             ("ours, PostgreSQL", "postgres", "full", "wall_s"), ("SDK 5 at a time", "none", "peer-parallel", "wall_s"),
             ("SDK sequential", "none", "peer-sequential", "wall_s"), ("ours sequential, SQLite", "sqlite", "sequential", "wall_s")]
COLOURS = ["#555555", "#4c72b0", "#dd8452", "#55a868", "#8fd19e", "#a6bddb"]
RSS_RUNS = ["full", "sequential", "delta", "nochange", "peer-parallel", "peer-sequential"]


def _bars(axis: Any, values: list[float | None], offset: float, width: float, label_format: str, label_size: int,
          **style: Any) -> None:
    """One bar per scale that has a value; a run missing at a scale draws nothing there (not a 0)."""
    shown = [(i + offset, v) for i, v in enumerate(values) if v]
    if shown:
        bars = axis.bar([x for x, _ in shown], [v for _, v in shown], width, **style)
        axis.bar_label(bars, labels=[label_format.format(v) for _, v in shown], fontsize=label_size)


def _pick(lines: list[dict[str, Any]], backend: str, run: str, field: str) -> float | None:
    """The run's figure; none for a run that lost tables (its wall time reads less than it did)."""
    for line in lines:
        if line.get("tables_failed"):
            continue
        if line.get("backend") == backend and line.get("run") == run and line.get(field) is not None:
            return float(line[field])
    return None


def write_chart(by_scale: dict[int, list[dict[str, Any]]], path: Path, title: str) -> Path | None:
    """A PNG with one group of bars per scale; None when no run produced numbers."""
    scales = sorted(s for s, lines in by_scale.items() if any(line.get("wall_s") for line in lines))
    if not scales:
        return None
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    fig, (wall, memory) = plt.subplots(1, 2, figsize=(11, 3.8), dpi=110)
    width = 0.8 / len(WALL_BARS)
    for k, (label, backend, run, field) in enumerate(WALL_BARS):
        values = [_pick(by_scale[s], backend, run, field) for s in scales]
        _bars(wall, values, (k - len(WALL_BARS) / 2 + 0.5) * width, width, "{:,.0f}", 6, label=label,
              color=COLOURS[k])
    wall.set_yscale("log")
    wall.set_title("wall time, s (log): our full load vs its bound and Microsoft's SDK", fontsize=9)
    wall.legend(fontsize=6, frameon=False)
    memory_runs = [(b, r) for r in RSS_RUNS for b in ("sqlite", "postgres", "none")
                   if any(_pick(by_scale[s], b, r, "peak_rss_mb") for s in scales)]
    width_m = 0.8 / max(1, len(memory_runs))
    for k, (backend, run) in enumerate(memory_runs):
        values = [_pick(by_scale[s], backend, run, "peak_rss_mb") for s in scales]
        _bars(memory, values, (k - len(memory_runs) / 2 + 0.5) * width_m, width_m, "{:.0f}", 5,
              label=f"{run} ({backend})" if backend != "none" else run)
    memory.axhline(RSS_TARGET_MB, color="grey", linestyle="--", linewidth=0.8)
    memory.set_title(f"peak RSS of the loading process, MB (target < {RSS_TARGET_MB})", fontsize=9)
    memory.legend(fontsize=5, frameon=False, ncol=2, loc="upper left")
    for axis in (wall, memory):
        axis.set_xticks(range(len(scales)), [f"{s:,} rows" for s in scales])
        axis.tick_params(labelsize=7)
        axis.spines[["top", "right"]].set_visible(False)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def read_results(path: Path) -> tuple[int, list[dict[str, Any]]]:
    """(scale, JSON lines) of one ``bench-<rows>.jsonl``."""
    return int(path.stem.split("-")[1]), [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def main(argv: list[str]) -> int:
    out = None
    if "--out" in argv:
        i = argv.index("--out")
        out, argv = Path(argv[i + 1]), argv[:i] + argv[i + 2:]
    files = [Path(a) for a in argv]
    if not files or not all(f.is_file() for f in files):
        print("usage: python -m bench.chart <results .jsonl> ... [--out chart.png]", file=sys.stderr)
        return 2
    by_scale = dict(read_results(f) for f in files)
    chart = write_chart(by_scale, out or files[-1].with_suffix(".png"), "HR sync benchmark (see README Performance)")
    print(chart or "no run with numbers in the results")
    return 0 if chart else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

"""The results chart: rows/s and peak RSS of the loading process, one bar per run.

``python -m bench.chart .bench/bench-1000000.jsonl ["title"]`` redraws it from stored results.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

RSS_TARGET_MB = 300


def write_chart(lines: list[dict[str, Any]], path: Path, title: str) -> Path | None:
    """A small PNG next to the JSON lines; None when no run produced numbers."""
    runs = [line for line in lines if line.get("wall_s")]
    if not runs:
        return None
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    labels = [f"{r['backend']}\n{r['run']}" for r in runs]
    colours = ["#4c72b0" if r["backend"] == "sqlite" else "#dd8452" for r in runs]
    fig, (speed, memory) = plt.subplots(1, 2, figsize=(9, 3.4), dpi=110)
    bars = speed.bar(labels, [r["rows_per_s"] for r in runs], color=colours)
    speed.bar_label(bars, labels=[f"{r['rows_per_s']:,.0f}\n{r['wall_s']:,.0f} s" for r in runs], fontsize=7)
    speed.set_title("rows written/s, and wall time", fontsize=9)
    speed.margins(y=0.15)
    bars = memory.bar(labels, [r["peak_rss_mb"] for r in runs], color=colours)
    memory.bar_label(bars, fmt="{:.0f}", fontsize=7)
    memory.axhline(RSS_TARGET_MB, color="grey", linestyle="--", linewidth=0.8)
    memory.set_title(f"peak RSS of the loading process, MB (target < {RSS_TARGET_MB})", fontsize=9)
    for axis in (speed, memory):
        axis.tick_params(labelsize=7)
        axis.spines[["top", "right"]].set_visible(False)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def main(argv: list[str]) -> int:
    if not argv or not Path(argv[0]).is_file():
        print("usage: python -m bench.chart <results .jsonl> [title]", file=sys.stderr)
        return 2
    results = Path(argv[0])
    lines = [json.loads(line) for line in results.read_text().splitlines() if line.strip()]
    chart = write_chart(lines, results.with_suffix(".png"), argv[1] if len(argv) > 1 else results.stem)
    print(chart or "no run with numbers in the results")
    return 0 if chart else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

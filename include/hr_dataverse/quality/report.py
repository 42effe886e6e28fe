"""The one-page summary of a quality run, as HTML and JSON, with the trend against earlier runs.

``write_report(run, root)`` writes ``runs/<run>/summary.{html,json}``, the same pair under
``latest/``, ``index.html`` (every kept run, newest first) and ``history.json`` (per-run totals per
table, the source of the trend column). The HTML is self-contained: inline CSS, no scripts, no
external assets, so it opens from disk, from the Airflow plugin (sandboxed iframe) or as an email
attachment alike. Status is always spelled out in text, never shown by colour alone.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any

from ..vocabulary import QualityStatus, Severity
from .lock import quality_lock
from .paths import (
    HISTORY_JSON,
    INDEX_HTML,
    LATEST_DIR,
    RUNS_DIR,
    SUMMARY_HTML,
    SUMMARY_JSON,
    quality_root,
    run_folder,
)
from .results import CheckResult, QualityRun

TREND_RUNS = 6  # runs shown in the trend column, this one included
STATUS_TEXT = {QualityStatus.PASSED: "Passed", QualityStatus.WARNINGS: "Passed with warnings",
               QualityStatus.FAILED: "Failed", QualityStatus.LOADS_FAILED: "Loads failed"}
_GROUP_LABELS = {"columns": "column checks", "queries": "SQL checks"}


@dataclass(frozen=True)
class ReportPaths:
    html: Path
    json: Path
    latest_html: Path
    index: Path


def write_report(run: QualityRun, root: str | os.PathLike[str], *, keep_runs: int = 90) -> ReportPaths:
    """Write the run's summary (and refresh latest/, index, history); returns where."""
    root = quality_root(root)
    folder = run_folder(run.run_id)
    with quality_lock(root):
        history = [e for e in load_history(root) if e.get("run_id") != run.run_id]
        history = (history + [history_entry(run, folder)])[-keep_runs:]
        trends = table_trends(history, [t.table for t in run.tables()])
        run_dir = root / RUNS_DIR / folder
        body = {**run.to_dict(), "trend": trends}
        for target, prefix in ((run_dir, "../../"), (root / LATEST_DIR, "../")):
            target.mkdir(parents=True, exist_ok=True)
            _write(target / SUMMARY_JSON, json.dumps({**body, "links": _links(run, prefix)}, indent=2, default=str))
            _write(target / SUMMARY_HTML, render_summary(run, trends, prefix))
        _write(root / HISTORY_JSON, json.dumps(history, indent=2))
        _write(root / INDEX_HTML, render_index(history))
        _prune(root / RUNS_DIR, {e["folder"] for e in history})
    return ReportPaths(run_dir / SUMMARY_HTML, run_dir / SUMMARY_JSON, root / LATEST_DIR / SUMMARY_HTML,
                       root / INDEX_HTML)


# --- history and trend -----------------------------------------------------------------------


def load_history(root: Path) -> list[dict[str, Any]]:
    """Earlier runs, oldest first. A damaged file starts a new history (it only feeds the trend)."""
    try:
        data = json.loads((root / HISTORY_JSON).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    return [e for e in data if isinstance(e, dict) and "run_id" in e and "folder" in e] if isinstance(data, list) else []


def history_entry(run: QualityRun, folder: str) -> dict[str, Any]:
    return {"run_id": run.run_id, "folder": folder, "finished_at": run.finished_at, "status": run.status,
            "totals": run.totals(),
            "tables": {t.table: {"failed": t.failed, "errors": t.errors, "warnings": t.warnings,
                                 "unexpected": t.unexpected} for t in run.tables()}}


def table_trends(history: list[dict[str, Any]], tables: Iterable[str]) -> dict[str, dict[str, Any]]:
    """Per table: failed checks in the last runs (oldest first, this run last) and a one-word verdict."""
    recent = history[-TREND_RUNS:]
    out: dict[str, dict[str, Any]] = {}
    for table in tables:
        failed = [e["tables"][table]["failed"] for e in recent if table in e.get("tables", {})]
        out[table] = {"failed": failed, "verdict": _verdict(failed)}
    return out


def _verdict(failed: list[int]) -> str:
    if len(failed) < 2:
        return "first run"
    before, now = failed[-2], failed[-1]
    if before == now:
        return "unchanged"
    if before == 0:
        return "new failures"
    if now == 0:
        return "fixed"
    return "worse" if now > before else "better"


# --- HTML ------------------------------------------------------------------------------------

_CSS = """
:root{color-scheme:light dark;--fg:#1a1a1a;--bg:#fff;--muted:#555;--line:#c8c8c8;--err:#a00000;--warn:#7a4a00;
--ok:#1b5e20;--errbg:#fdecea;--warnbg:#fff4e0;--okbg:#e8f5e9;--code:#f2f2f2}
@media (prefers-color-scheme:dark){:root{--fg:#eee;--bg:#161616;--muted:#bbb;--line:#444;--err:#ff8a80;
--warn:#ffcc80;--ok:#a5d6a7;--errbg:#3b1614;--warnbg:#3a2a10;--okbg:#15301a;--code:#262626}}
body{font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:var(--bg);
margin:0 auto;max-width:78rem;padding:1rem 1.5rem}
h1{font-size:1.6rem;margin:.5rem 0}h2{font-size:1.25rem;margin-top:2rem;border-bottom:1px solid var(--line)}
table{border-collapse:collapse;width:100%;margin:.5rem 0}caption{text-align:left;font-weight:600;padding:.25rem 0}
th,td{border:1px solid var(--line);padding:.35rem .5rem;text-align:left;vertical-align:top}
th{background:var(--code)}td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
code{background:var(--code);padding:0 .2rem;border-radius:3px;overflow-wrap:anywhere}
th.wide{width:45%}td.col code{overflow-wrap:normal;white-space:nowrap}p.sample-h{margin:.4rem 0 0;color:var(--muted)}
.status{display:inline-block;padding:.1rem .5rem;border-radius:3px;font-weight:600;border:1px solid}
.failed,.loads_failed{color:var(--err);background:var(--errbg)}.warnings{color:var(--warn);background:var(--warnbg)}
.passed{color:var(--ok);background:var(--okbg)}.muted{color:var(--muted)}
.skip{position:absolute;left:-999px}.skip:focus{left:1rem;top:1rem;background:var(--bg);padding:.5rem}
a{color:inherit}a:focus,summary:focus{outline:3px solid #1a73e8;outline-offset:2px}
dl.totals{display:grid;grid-template-columns:repeat(auto-fit,minmax(9rem,1fr));gap:.5rem}
dl.totals div{border:1px solid var(--line);padding:.5rem;border-radius:4px}dl.totals dt{color:var(--muted)}
dl.totals dd{margin:0;font-size:1.4rem;font-weight:600}ul.sample{margin:0;padding-left:1.1rem}
@media print{.skip{display:none}a{text-decoration:none}}
"""


def render_summary(run: QualityRun, trends: Mapping[str, Mapping[str, Any]], prefix: str) -> str:
    """The one-page summary; ``prefix`` leads from the page's folder back to the report root."""
    totals = run.totals()
    status = STATUS_TEXT[run.status]
    parts = [
        _head(f"HR data quality: {status} ({run.run_id})"),
        '<a class="skip" href="#main">Skip to the results</a>',
        "<header>",
        "<h1>HR data quality</h1>",
        f'<p>Run <code>{escape(run.run_id)}</code>, finished {escape(run.finished_at)} UTC: '
        f'<span class="status {run.status}" id="run-status">{status}</span></p>',
        "</header>",
        '<main id="main">',
        _loads(run),
        '<section aria-labelledby="totals-h"><h2 id="totals-h">Totals</h2><dl class="totals">',
        *(f'<div><dt>{label}</dt><dd id="total-{key}">{totals[key]}</dd></div>' for key, label in
          (("evaluated", "Checks run"), ("passed", "Passed"), ("errors", "Failed: errors"),
           ("warnings", "Failed: warnings"), ("unexpected", "Offending rows"))),
        "</dl>",
        "<p>Errors fail the Airflow run once this report is written; warnings only report.</p></section>",
        _failures(run.failures()),
        _tables(run, trends, prefix),
        _notes(run.notes),
        _links_section(run, prefix),
        "</main>",
        f'<footer class="muted"><p>Warehouse <code>{escape(run.warehouse)}</code>; Great Expectations '
        f"{escape(run.gx_version)}; started {escape(run.started_at)} UTC.</p></footer>",
        "</body></html>",
    ]
    return "\n".join(parts)


def _head(title: str) -> str:
    return ('<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{escape(title)}</title><style>{_CSS}</style></head><body>")


def _failures(failures: list[CheckResult]) -> str:
    if not failures:
        return ('<section aria-labelledby="fail-h"><h2 id="fail-h">Failures</h2>'
                "<p>Every check passed.</p></section>")
    rows = []
    for c in failures:
        rows.append(
            f'<tr id="check-{escape(c.id)}"><td><span class="status {QualityStatus.FAILED if c.severity == Severity.ERROR else QualityStatus.WARNINGS}">'
            f"{escape(c.severity.capitalize())}</span></td><td>{escape(c.table)}</td>"
            f"<td class=col>{_columns(c.column)}</td>"
            f"<td>{escape(c.kind.replace('_', ' '))}</td>"
            f'<td class="num">{_count(c.unexpected_count)}</td>'
            f"<td>{escape(c.message)}{_cause(c)}{_sample(c.sample)}</td></tr>")
    return ('<section aria-labelledby="fail-h"><h2 id="fail-h">Failures</h2><table id="failures">'
            f"<caption>{len(failures)} failed check(s), errors first</caption><thead><tr>"
            '<th scope="col">Severity</th><th scope="col">Table</th><th scope="col">Column</th>'
            '<th scope="col">Check</th><th scope="col" class="num">Offending rows</th>'
            '<th scope="col" class="wide">What was found (with sample rows)</th></tr></thead><tbody>'
            + "".join(rows) + "</tbody></table></section>")


def _tables(run: QualityRun, trends: Mapping[str, Mapping[str, Any]], prefix: str) -> str:
    rows = []
    for t in run.tables():
        trend = trends.get(t.table, {})
        series = " → ".join(str(n) for n in trend.get("failed", [])) or "—"
        pages = run.validation_pages.get(t.table, {})
        stale = t.table in run.stale_tables
        status, text = (QualityStatus.LOADS_FAILED, "Stale: load failed") if stale else (t.status, STATUS_TEXT[t.status])
        docs = ", ".join(f'<a href="{escape(prefix + page)}">{_GROUP_LABELS.get(group, group)}</a>'
                         for group, page in pages.items()) or '<span class="muted">—</span>'
        rows.append(
            f'<tr id="table-{escape(t.table)}"><th scope="row">{escape(t.table)}</th>'
            f'<td><span class="status {status}">{text}</span></td>'
            f'<td class="num">{t.passed}</td><td class="num">{t.failed}</td><td class="num">{t.errors}</td>'
            f'<td class="num">{t.warnings}</td><td class="num">{t.unexpected}</td>'
            f"<td>{_sparkline(trend.get('failed', []))} {escape(series)} "
            f"<span class=muted>({escape(str(trend.get('verdict', '')))})</span></td>"
            f"<td>{docs}</td></tr>")
    return ('<section aria-labelledby="tables-h"><h2 id="tables-h">Per table</h2><table id="tables">'
            "<caption>Checks per table; trend = failed checks in the last runs, oldest first, this run last"
            "</caption><thead><tr>"
            '<th scope="col">Table</th><th scope="col">Status</th><th scope="col" class="num">Passed</th>'
            '<th scope="col" class="num">Failed</th><th scope="col" class="num">Errors</th>'
            '<th scope="col" class="num">Warnings</th><th scope="col" class="num">Offending rows</th>'
            '<th scope="col">Trend</th><th scope="col">Data Docs</th></tr></thead><tbody>'
            + "".join(rows) + "</tbody></table></section>")


def _loads(run: QualityRun) -> str:
    """The run's failed loads first: what the checks below describe is then stale data."""
    if not run.stale_tables:
        return ""
    return (f'<section aria-labelledby="loads-h" id="loads"><h2 id="loads-h">Loads failed</h2>'
            f'<p class="status loads_failed">{escape(str((run.loads or {}).get("message", "")))}</p></section>')


def _notes(notes: list[str]) -> str:
    if not notes:
        return ""
    items = "".join(f"<li>{escape(n)}</li>" for n in notes)
    return (f'<section aria-labelledby="notes-h"><h2 id="notes-h">Not checked</h2>'
            f"<details><summary>{len(notes)} note(s) on checks skipped and why</summary><ul>{items}</ul>"
            "</details></section>")


def _links(run: QualityRun, prefix: str) -> dict[str, str | None]:
    return {"data_docs": prefix + run.data_docs if run.data_docs else None,
            "all_runs": prefix + INDEX_HTML,
            "run_summary": f"{prefix}{RUNS_DIR}/{run_folder(run.run_id)}/{SUMMARY_HTML}"}


def _links_section(run: QualityRun, prefix: str) -> str:
    links = _links(run, prefix)
    items = [f'<li><a href="{escape(links["data_docs"])}">Great Expectations Data Docs</a> '
             "(every expectation and its result, all runs)</li>"] if links["data_docs"] else []
    items += [f'<li><a href="{escape(links["run_summary"])}">This run\'s summary</a> '
              f'(<a href="{escape(links["run_summary"].removesuffix(SUMMARY_HTML) + SUMMARY_JSON)}">JSON</a>)</li>',
              f'<li><a href="{escape(links["all_runs"])}">All runs</a></li>']
    return f'<section aria-labelledby="links-h"><h2 id="links-h">More</h2><ul>{"".join(items)}</ul></section>'


def _code(text: str) -> str:
    return f"<code>{escape(text)}</code>"


def _columns(column: str | None) -> str:
    """One code span per column (``has_values`` may name several), each kept on one line."""
    if not column:
        return '<span class="muted">(table)</span>'
    return ", ".join(_code(name) for name in column.split(", "))


def _count(value: int | None) -> str:
    return "—" if value is None else str(value)


def _cause(check: CheckResult) -> str:
    return f"<br><strong>Likely cause:</strong> {escape(check.cause)}" if check.cause else ""


def _sample(sample: list[Any]) -> str:
    if not sample:
        return ""
    items = "".join(f"<li>{_code(_short(v))}</li>" for v in sample)
    return f'<p class="sample-h">Sample:</p><ul class="sample">{items}</ul>'


def _short(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}={_short(v)}" for k, v in value.items())
    text = "null" if value is None else str(value)
    return text[:120]


def render_index(history: list[dict[str, Any]]) -> str:
    rows = []
    for e in reversed(history):
        t = e.get("totals", {})
        status = e.get("status", QualityStatus.FAILED)
        href = f"{RUNS_DIR}/{e['folder']}/{SUMMARY_HTML}"
        rows.append(
            f'<tr><th scope="row"><a href="{escape(href)}">'
            f'{escape(e["run_id"])}</a></th><td>{escape(str(e.get("finished_at", "")))}</td>'
            f'<td><span class="status {escape(status)}">{STATUS_TEXT.get(status, status)}</span></td>'
            f'<td class="num">{t.get("errors", 0)}</td><td class="num">{t.get("warnings", 0)}</td>'
            f'<td class="num">{t.get("unexpected", 0)}</td></tr>')
    return "\n".join([
        _head("HR data quality: all runs"), '<a class="skip" href="#main">Skip to the runs</a>',
        '<header><h1>HR data quality: all runs</h1><p><a href="latest/summary.html">Latest run</a> · '
        '<a href="docs/index.html">Great Expectations Data Docs</a></p></header><main id="main">',
        _trend_chart(history),
        '<table><caption>Runs, newest first</caption><thead><tr><th scope="col">Run</th>'
        '<th scope="col">Finished (UTC)</th><th scope="col">Status</th><th scope="col" class="num">Errors</th>'
        '<th scope="col" class="num">Warnings</th><th scope="col" class="num">Offending rows</th></tr></thead>'
        "<tbody>" + "".join(rows) + "</tbody></table></main></body></html>",
    ])


# --- files -----------------------------------------------------------------------------------


def _write(path: Path, text: str) -> None:
    """Readers (the UI plugin) never see half a file."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def _prune(runs: Path, keep: set[str]) -> None:
    if not runs.is_dir():
        return
    for child in runs.iterdir():
        if child.is_dir() and child.name not in keep:
            shutil.rmtree(child, ignore_errors=True)


# --- trend charts (inline SVG: no script, no CDN) ----------------------------------------------

TREND_CHART_RUNS = 60


def _sparkline(failed: list[int]) -> str:
    """Failed checks of one table in the last runs as small bars (this run last, red when > 0)."""
    if not failed:
        return ""
    top, width, height = max(max(failed), 1), 7, 18
    bars = "".join(
        f'<rect x="{i * width}" y="{height - max(1.0, height * n / top):.1f}" width="{width - 2}" '
        f'height="{max(1.0, height * n / top):.1f}" fill="{"#c62828" if n else "#2e7d32"}"><title>{n}</title></rect>'
        for i, n in enumerate(failed))
    label = "failed checks per run: " + ", ".join(str(n) for n in failed)
    return (f'<svg class="spark" width="{width * len(failed)}" height="{height}" role="img" '
            f'aria-label="{escape(label)}" style="vertical-align:middle">{bars}</svg>')


def _trend_chart(history: list[dict[str, Any]]) -> str:
    """Errors and warnings per run over the last runs (oldest first), drawn on the server."""
    from ..history.charts import Series, bar_chart

    recent = history[-TREND_CHART_RUNS:]
    labels = [str(e.get("finished_at", ""))[5:16].replace("T", " ") or e["run_id"] for e in recent]
    chart = bar_chart("dq-trend", "Failed checks per run", labels, [
        Series("errors", "#c62828", [e.get("totals", {}).get("errors", 0) for e in recent]),
        Series("warnings", "#b26a00", [e.get("totals", {}).get("warnings", 0) for e in recent])], stacked=True)
    return f'<section aria-label="Trend" style="max-width:900px">{chart}</section>'

"""The sync-history page: filters, totals, three charts (rows, duration, throttling per run), the
runs, and every table load with its counts and warnings. Self-contained HTML (inline CSS and SVG).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from html import escape
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from .charts import Series, bar_chart
from .filters import HistoryFilter
from .summary import RunTotals, duration, runs_of

if TYPE_CHECKING:
    from ..warehouse import RunRecord, Warehouse

CHART_RUNS = 60  # the charts show the newest runs; the tables list all of them
TABLE_ROWS = 500

_CSS = """
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",sans-serif;margin:16px;color:#1f2328}
h1{font-size:20px;margin:0 0 8px}h2{font-size:16px;margin:20px 0 6px}
form{display:flex;gap:10px;align-items:end;flex-wrap:wrap;margin:8px 0}
label{display:flex;flex-direction:column;font-size:12px;color:#57606a}
input{font:inherit;padding:3px 6px}
.totals{display:flex;gap:18px;flex-wrap:wrap;margin:10px 0}
.totals div{background:#f6f8fa;border:1px solid #d0d7de;border-radius:6px;padding:6px 10px}
.totals b{display:block;font-size:18px}
.chart{width:100%;max-width:900px;display:block;margin:6px 0 12px;background:#fff}
.chart .grid{stroke:#e5e7eb}.chart .tick{font-size:11px;fill:#57606a}
.chart .chart-title{font-size:13px;font-weight:600;fill:#1f2328}
table{border-collapse:collapse;font-size:13px}th,td{border-bottom:1px solid #d0d7de;padding:3px 8px;text-align:right}
th{background:#f6f8fa}td:first-child{white-space:nowrap}td.l,th.l{text-align:left}
.success{color:#1a7f37}.warning{color:#9a6700}.failed{color:#cf222e;font-weight:600}.skipped{color:#57606a}
.error{color:#cf222e;font-weight:600}.note{color:#57606a;font-size:12px}
"""


def history_records(warehouse: Warehouse, flt: HistoryFilter, *, limit: int = 5000) -> list[RunRecord]:
    since, until = flt.bounds()
    return warehouse.run_history(table=flt.table, run_id=flt.run_id, since=since, until=until, limit=limit)


def render_history_page(records: Sequence[RunRecord], flt: HistoryFilter, *, home: str,
                        tables: Sequence[str] = (), error: str | None = None,
                        now: datetime | None = None) -> str:
    """The page for the history rows ``records`` (oldest first) selected by ``flt``.

    ``home``: URL of the unfiltered page (the form submits to it; run links add ``?run_id=``).
    ``tables``: names offered in the table filter. ``error``: a filter problem shown above the form.
    """
    runs = runs_of(records)
    title = f"HR sync history: run {flt.run_id}" if flt.run_id else "HR sync history"
    parts = [f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
             f'<meta name="viewport" content="width=device-width"><style>{_CSS}</style></head><body>',
             f"<h1>{escape(title)}</h1>",
             '<p class="note">From the warehouse run history (<code>_hr_sync_runs</code>): one row per table '
             'load. 429s are Dataverse service-protection answers; waited = seconds spent before retries.</p>']
    if error:
        parts.append(f'<p class="error" id="filter-error">{escape(error)}</p>')
    parts.append(_form(flt, home, tables))
    parts.append(_totals(runs))
    shown = runs[-CHART_RUNS:]
    labels = [r.started_at.astimezone(UTC).strftime("%m-%d %H:%M") for r in shown]
    parts.append('<h2>Charts</h2><p class="note">' + (f"The newest {len(shown)} of {len(runs)} runs. "
                 if len(runs) > len(shown) else "") + "Hover a bar for its value.</p>")
    parts.append(bar_chart("chart-rows", "Rows per run", labels, [
        Series("upserted", "#0969da", [r.rows_upserted for r in shown]),
        Series("deleted", "#cf222e", [r.rows_deleted for r in shown])], stacked=True))
    parts.append(bar_chart("chart-duration", "Duration per run (seconds)", labels, [
        Series("waiting (429 / retries)", "#bf8700", [min(r.wait_seconds, r.seconds) for r in shown]),
        Series("working", "#8250df", [max(r.seconds - r.wait_seconds, 0.0) for r in shown])],
        stacked=True, unit=" s"))
    parts.append(bar_chart("chart-throttling", "Throttling per run", labels, [
        Series("429s received", "#cf222e", [r.throttled for r in shown]),
        Series("retries", "#bf8700", [r.retries for r in shown]),
        Series("seconds waited", "#57606a", [r.wait_seconds for r in shown])]))
    parts.append(_runs_table(runs, home))
    parts.append(_loads_table(records))
    stamp = (now or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    parts.append(f'<p class="note">Rendered {stamp}.</p></body></html>')
    return "".join(parts)


def _form(flt: HistoryFilter, home: str, tables: Sequence[str]) -> str:
    options = "".join(f'<option value="{escape(t)}">' for t in tables)
    hidden = f'<input type="hidden" name="run_id" value="{escape(flt.run_id)}">' if flt.run_id else ""
    return (f'<form method="get" action="{escape(home)}" id="filters">{hidden}'
            f'<label>Table<input name="table" list="tables" value="{escape(flt.table or "")}" '
            f'placeholder="all tables"></label><datalist id="tables">{options}</datalist>'
            f'<label>From (UTC)<input type="date" name="since" value="{flt.since or ""}"></label>'
            f'<label>To (UTC)<input type="date" name="until" value="{flt.until or ""}"></label>'
            f'<button type="submit">Filter</button> <a href="{escape(home)}">Clear</a></form>')


def _totals(runs: Sequence[RunTotals]) -> str:
    items = [("runs", len(runs)), ("rows upserted", sum(r.rows_upserted for r in runs)),
             ("rows deleted", sum(r.rows_deleted for r in runs)), ("requests", sum(r.requests for r in runs)),
             ("429s", sum(r.throttled for r in runs)), ("retries", sum(r.retries for r in runs)),
             ("seconds waited", round(sum(r.wait_seconds for r in runs), 1))]
    return '<div class="totals" id="totals">' + "".join(
        f'<div id="total-{escape(k.replace(" ", "-"))}"><b>{v:,}</b>{escape(k)}</div>' for k, v in items) + "</div>"


def _runs_table(runs: Sequence[RunTotals], home: str) -> str:
    head = ("<tr><th class=l>Started (UTC)</th><th class=l>Run</th><th class=l>Status</th><th class=l>Modes</th>"
            "<th>Tables</th><th>Upserted</th><th>Deleted</th><th>Pages</th><th>Requests</th><th>429s</th>"
            "<th>Waited s</th><th>Retries</th><th>Duration s</th><th>Warnings</th></tr>")
    rows = []
    for r in reversed(runs):
        link = f'{home}?{urlencode({"run_id": r.run_id})}'
        modes = ", ".join(f"{m} {n}" for m, n in sorted(r.modes.items()))
        rows.append(
            f'<tr class="run"><td class=l>{r.started_at.astimezone(UTC):%Y-%m-%d %H:%M:%S}</td>'
            f'<td class=l><a href="{escape(link)}">{escape(r.run_id)}</a></td>'
            f'<td class="l {r.status}">{r.status}</td><td class=l>{escape(modes)}</td><td>{len(r.tables)}</td>'
            f"<td>{r.rows_upserted:,}</td><td>{r.rows_deleted:,}</td><td>{r.pages:,}</td><td>{r.requests:,}</td>"
            f'<td class="throttled">{r.throttled:,}</td><td>{r.wait_seconds:,.1f}</td><td>{r.retries:,}</td>'
            f"<td>{r.seconds:,.1f}</td><td>{r.warnings}</td></tr>")
    body = "".join(rows) or '<tr><td class=l colspan="14">No sync runs match these filters.</td></tr>'
    return f'<h2>Runs</h2><table id="runs">{head}{body}</table>'


def _loads_table(records: Sequence[RunRecord]) -> str:
    head = ("<tr><th class=l>Started (UTC)</th><th class=l>Run</th><th class=l>Table</th><th class=l>Mode</th>"
            "<th class=l>Status</th><th>Upserted</th><th>Deleted</th><th>Pages</th><th>Requests</th><th>429s</th>"
            "<th>Waited s</th><th>Retries</th><th>Duration s</th><th class=l>Warnings / message</th></tr>")
    rows = []
    for r in list(reversed(records))[:TABLE_ROWS]:
        notes = "<br>".join(escape(w) for w in r.warnings) if r.warnings else escape(r.message or "")
        rows.append(
            f'<tr class="load"><td class=l>{r.started_at.astimezone(UTC):%Y-%m-%d %H:%M:%S}</td>'
            f"<td class=l>{escape(r.run_id)}</td><td class=l>{escape(r.table_name)}</td><td class=l>{escape(r.mode)}</td>"
            f'<td class="l {escape(r.status)}">{escape(r.status)}</td><td>{r.rows_upserted:,}</td>'
            f"<td>{r.rows_deleted:,}</td><td>{r.pages:,}</td><td>{r.requests:,}</td><td>{r.throttled:,}</td>"
            f"<td>{r.wait_seconds:,.1f}</td><td>{r.retries:,}</td><td>{duration(r):,.1f}</td>"
            f'<td class=l>{notes}</td></tr>')
    more = (f'<p class="note">The newest {TABLE_ROWS} of {len(records)} table loads.</p>'
            if len(records) > TABLE_ROWS else "")
    body = "".join(rows) or '<tr><td class=l colspan="14">No table loads match these filters.</td></tr>'
    return f'<h2>Table loads</h2>{more}<table id="loads">{head}{body}</table>'

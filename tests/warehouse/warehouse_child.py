"""A load in its own process, for test_warehouse_crash.py to kill with SIGKILL at a chosen point.

Usage: python warehouse_child.py URL SCHEMA PHASE [TABLE]. Prints one line per step, flushed, so
the test knows where the process is: ``staged <n>`` after each delta page (then it waits at page 3
to be killed), or ``committing`` right before committing a large full load. Phase ``parallel``
repeatedly loads TABLE (a copy of the test table) while other processes load theirs.
"""

from __future__ import annotations

import sys
import time
from dataclasses import replace

from warehouse_fakes import COLUMNS, SPEC, TABLE, delta_pages, pages

from hr_dataverse.warehouse import Warehouse


def main(url: str, schema: str, phase: str, table: str = TABLE) -> None:
    wh = Warehouse(url, schema=schema or None)
    wh.ensure_table(replace(SPEC, name=table), COLUMNS)
    if phase == "parallel":
        for n in range(5):
            with wh.begin_load(table, f"run-{n}", "full") as load:
                for page in pages(0, 300, 100, version=n):
                    load.stage_rows(page)
                load.commit(delta_link=f"link-{n}", source_count=300, reconcile_deletes=True)
        print("done", flush=True)
    elif phase == "staging":
        load = wh.begin_load(TABLE, "run-2", "delta")
        for n, (upserts, deletes) in enumerate(delta_pages(), 1):
            load.stage_rows(upserts)
            load.stage_deletes(deletes)
            print(f"staged {n}", flush=True)
            if n == 3:
                time.sleep(600)  # the test kills us here
    elif phase == "committing":
        load = wh.begin_load(TABLE, "run-3", "full")
        for page in pages(0, 5000, 500, version=3):
            load.stage_rows(page)
        print("committing", flush=True)
        load.commit(delta_link="link-3", source_count=5000, reconcile_deletes=True)
        print("committed", flush=True)
        time.sleep(600)
    else:
        raise SystemExit(f"unknown phase {phase!r}")


if __name__ == "__main__":
    main(*sys.argv[1:5])

"""One ``sync_table`` call in its own process, for test_sync_crash.py to kill with SIGKILL mid-load.

Usage: ``python sync_child.py '<json>'`` with keys info (the emulator's ready line), url, schema,
table, run_id, page_size, partition_by_key (overrides the catalog's flag). Prints ``finished`` if it was not killed first.

For test_sync_lock.py, optional keys: ``lock_wait_s``; ``pause_in_lock`` (print ``paused`` once the load
holds the table's lock and has planned its mode, then wait for a line on stdin); the sync log goes to
stderr at INFO, and the result is printed as ``result <json>``.
"""

from __future__ import annotations

import json
import logging
import sys
from dataclasses import replace

from sync_helpers import settings_for

from hr_dataverse.catalog import load_catalog
from hr_dataverse.dataverse import DataverseClient
from hr_dataverse.sync import sync_table
from hr_dataverse.warehouse import Warehouse


class _PauseInLock(logging.Handler):
    """Blocks the load at its "table …: <mode> load (…)" line, logged inside the table's load lock."""

    def emit(self, record: logging.LogRecord) -> None:
        if record.msg == "table %s: %s load (%s)":
            print("paused", flush=True)
            sys.stdin.readline()


def main(raw: str) -> None:
    args = json.loads(raw)
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(message)s")
    if args.get("pause_in_lock"):
        logging.getLogger("hr_dataverse.sync").addHandler(_PauseInLock())
    options = {"lock_wait_s": args["lock_wait_s"]} if "lock_wait_s" in args else {}
    warehouse = Warehouse(args["url"], schema=args["schema"])
    with DataverseClient(settings_for(args["info"])) as client:
        spec = replace(load_catalog().get(args["table"]), partition_by_key=args["partition_by_key"])
        result = sync_table(client, warehouse, spec, run_id=args["run_id"], page_size=args["page_size"], **options)
    print("result " + json.dumps(result.to_dict()), flush=True)
    print("finished", flush=True)


if __name__ == "__main__":
    main(sys.argv[1])

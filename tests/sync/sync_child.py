"""One ``sync_table`` call in its own process, for test_sync_crash.py to kill with SIGKILL mid-load.

Usage: ``python sync_child.py '<json>'`` with keys info (the emulator's ready line), url, schema,
table, run_id, page_size, partition_by_key (overrides the catalog's flag). Prints ``finished`` if it was not killed first.
"""

from __future__ import annotations

import json
import sys
from dataclasses import replace

from sync_helpers import settings_for

from hr_dataverse.catalog import load_catalog
from hr_dataverse.dataverse import DataverseClient
from hr_dataverse.sync import sync_table
from hr_dataverse.warehouse import Warehouse


def main(raw: str) -> None:
    args = json.loads(raw)
    warehouse = Warehouse(args["url"], schema=args["schema"])
    with DataverseClient(settings_for(args["info"])) as client:
        spec = replace(load_catalog().get(args["table"]), partition_by_key=args["partition_by_key"])
        sync_table(client, warehouse, spec, run_id=args["run_id"], page_size=args["page_size"])
    print("finished", flush=True)


if __name__ == "__main__":
    main(sys.argv[1])

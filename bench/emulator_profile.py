"""CPU per row the emulator spends answering the loader's and the SDK peer's reads (issue #18).

``python bench/emulator_profile.py [--scale 2000] [--tables N] [--profile FILE] [--top 25]``

The emulator runs in this process, without its TLS server: requests go straight to
``Emulator.handle`` (the latency model is off, so no modelled sleep is counted), and the CPU of the
handler is ``time.process_time`` around each call. TLS, sockets and ``http.server`` parsing are
not in the figure; they cost the same per byte with or without this work. Workloads, each on the
``--tables`` largest change-tracked tables:

* ``sdk``: every column, ``Prefer: odata.maxpagesize=5000``, following nextLinks (bench/peer_sdk.py);
* ``loader-tracked``: the sync's full load: ``odata.track-changes`` + FormattedValue annotations,
  ``$select`` of every column, then a ``$count``;
* ``loader-walk``: a partitioned load's key walk (tracked, ``$select`` every column, no annotations)
  plus its key ranges (plain reads, ``$filter`` ``ge``/``lt`` on the key, FormattedValue);
* ``loader-delta``: a delta read after 1% of the rows changed and a few were deleted.

Prints one line per workload (requests, rows served, CPU seconds, µs per row) and, with
``--profile``, writes the cProfile of all workloads and prints its top entries by own time.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "emulator"))

from dataverse_emulator.app import Emulator  # noqa: E402
from dataverse_emulator.config import EmulatorConfig  # noqa: E402
from dataverse_emulator.http import Headers, Request  # noqa: E402

ORIGIN = "https://127.0.0.1:8443"
FORMATTED = 'odata.include-annotations="OData.Community.Display.V1.FormattedValue"'
PAGE = "odata.maxpagesize=5000"


class Client:
    """Requests straight into the emulator's pipeline, with the CPU they cost."""

    def __init__(self, emulator: Emulator, profiler: cProfile.Profile | None) -> None:
        self.emulator = emulator
        self.profiler = profiler
        self.cpu = 0.0
        self.requests = 0
        self.rows = 0
        cfg = emulator.config
        body = urllib.parse.urlencode({"grant_type": "client_credentials", "client_id": cfg.client_id,
                                       "client_secret": cfg.client_secret, "scope": f"{ORIGIN}/.default"})
        resp, _ = emulator.handle(Request("POST", f"/{cfg.tenant_id}/oauth2/v2.0/token", headers=Headers(
            {"Content-Type": "application/x-www-form-urlencoded"}), body=body.encode(), scheme_host=ORIGIN))
        self.token = resp.json_payload()["access_token"]
        self.api = f"/api/data/{cfg.api_version}/"

    def get(self, url: str, prefer: str | None = None) -> Any:
        parts = urllib.parse.urlsplit(url if "://" in url else ORIGIN + self.api + url)
        headers = {"Authorization": f"Bearer {self.token}", "Accept": "application/json",
                   "OData-MaxVersion": "4.0", "OData-Version": "4.0"}
        if prefer:
            headers["Prefer"] = prefer
        req = Request("GET", urllib.parse.unquote(parts.path), raw_query=parts.query, headers=Headers(headers),
                      scheme_host=ORIGIN)
        if self.profiler:
            self.profiler.enable()
        start = time.process_time()
        resp, _ = self.emulator.handle(req)
        self.cpu += time.process_time() - start
        if self.profiler:
            self.profiler.disable()
        if resp.status != 200:
            raise RuntimeError(f"{url}: {resp.status} {resp.body[:300]!r}")
        self.requests += 1
        self.rows += resp.rows
        ctype = resp.headers.get("Content-Type") or ""
        return resp.json_payload() if ctype.startswith("application/json") else resp.body.decode()

    def pages(self, url: str, prefer: str) -> list[dict[str, Any]]:
        """Every page of a read, following nextLinks."""
        out = []
        next_url: str | None = url
        while next_url:
            page = self.get(next_url, prefer)
            out.append(page)
            next_url = page.get("@odata.nextLink")
        return out


def query(**params: str) -> str:
    return urllib.parse.urlencode(params, quote_via=urllib.parse.quote, safe="$(),'")


def workloads(emulator: Emulator, tables: list[Any]) -> dict[str, Callable[[Client], None]]:
    def sdk(c: Client) -> None:
        for t in tables:
            c.pages(t.entity_set_name, PAGE)

    def select(t: Any) -> str:
        return ",".join(t.wire_name(a) for a in t.attributes.values())

    def tracked(c: Client) -> None:
        for t in tables:
            c.get(f"{t.entity_set_name}/$count")
            c.pages(f"{t.entity_set_name}?{query(**{'$select': select(t)})}", f"odata.track-changes,{FORMATTED},{PAGE}")

    def walk(c: Client) -> None:
        for t in tables:
            pages = c.pages(f"{t.entity_set_name}?{query(**{'$select': select(t)})}", f"odata.track-changes,{PAGE}")
            cuts = [p["value"][0][t.primary_id] for p in pages[1:] if p["value"]]
            edges: list[str | None] = [None, *cuts, None]
            for lo, hi in zip(edges, edges[1:], strict=False):
                parts = ([f"{t.primary_id} ge {lo}"] if lo else []) + ([f"{t.primary_id} lt {hi}"] if hi else [])
                q = {"$select": select(t), **({"$filter": " and ".join(parts)} if parts else {})}
                c.pages(f"{t.entity_set_name}?{query(**q)}", f"{FORMATTED},{PAGE}")

    def delta(c: Client) -> None:
        store = emulator.store
        links = {}
        for t in tables:
            pages = c.pages(f"{t.entity_set_name}?{query(**{'$select': select(t)})}", f"odata.track-changes,{PAGE}")
            links[t.logical_name] = pages[-1]["@odata.deltaLink"]
        c.cpu = c.rows = c.requests = 0  # only the delta reads count
        for t in tables:
            rows = list(store.iter_rows(t.logical_name))
            name_column = t.primary_name
            for row in rows[:: 100]:
                store.update(t.logical_name, row[t.primary_id], {name_column: f"{row.get(name_column)} (changed)"})
            for row in rows[1::500]:
                store.delete(t.logical_name, row[t.primary_id])
        for t in tables:
            c.pages(links[t.logical_name], f"odata.track-changes,{FORMATTED},{PAGE}")

    return {"sdk": sdk, "loader-tracked": tracked, "loader-walk": walk, "loader-delta": delta}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--scale", type=int, default=2000)
    p.add_argument("--tables", type=int, default=3, help="the N largest change-tracked tables")
    p.add_argument("--only", default="", help="comma-separated workload names (default: all)")
    p.add_argument("--profile", type=Path, help="write the cProfile stats here and print the top entries")
    p.add_argument("--top", type=int, default=25)
    a = p.parse_args()
    with tempfile.TemporaryDirectory() as state:
        emulator = Emulator(EmulatorConfig(state_dir=Path(state), scale=a.scale))
        emulator.bind(ORIGIN)
        by_size = sorted((t for t in emulator.schema.values() if t.change_tracking),
                         key=lambda t: -emulator.store.count(t.logical_name))
        tables = by_size[: a.tables]
        print(f"scale {a.scale}; tables: " + ", ".join(f"{t.logical_name} ({emulator.store.count(t.logical_name)})"
                                                      for t in tables))
        profiler = cProfile.Profile() if a.profile else None
        chosen = [n for n in a.only.split(",") if n] or None
        for name, run in workloads(emulator, tables).items():
            if chosen and name not in chosen:
                continue
            client = Client(emulator, profiler)
            run(client)
            per_row = 1e6 * client.cpu / client.rows if client.rows else float("nan")
            print(f"{name:15s} requests {client.requests:4d}  rows {client.rows:7d}  CPU {client.cpu:7.3f} s  "
                  f"{per_row:5.1f} µs/row")
        if profiler is not None:
            profiler.dump_stats(a.profile)
            pstats.Stats(profiler).sort_stats("tottime").print_stats(a.top)


if __name__ == "__main__":
    main()

"""CPU per row the emulator spends answering the loader's and the SDK peer's reads (issue #18).

``python bench/emulator_profile.py [--scale 8000] [--tables N] [--profile FILE] [--top 25] [--tls]``

By default the emulator runs in this process, without its TLS server: requests go straight to
``Emulator.handle`` (the latency model is off, so no modelled sleep is counted), and the figure is
``time.process_time`` around each call, the handler's CPU. With ``--tls`` the emulator is its own
process (``python -m dataverse_emulator serve``, latency model off) read over HTTPS, and the figure
is that process's CPU (TLS, sockets and ``http.server`` included). Workloads, each on the
``--tables`` largest change-tracked tables:

* ``sdk``: every column, ``Prefer: odata.maxpagesize=5000``, following nextLinks (bench/peer_sdk.py);
* ``loader-tracked``: the sync's full load: ``odata.track-changes`` + FormattedValue annotations,
  ``$select`` of every column, then a ``$count``;
* ``loader-walk``: a partitioned load's key walk (tracked, ``$select`` every column, no annotations)
  plus its key ranges (plain reads, ``$filter`` ``ge``/``lt`` on the key, FormattedValue);
* ``loader-delta``: a delta read after ``/_emulator/bulk-changes`` changed 1% of the rows (a fifth
  of them deleted).

Prints one line per workload (requests, rows served, CPU seconds, µs per row) and, with
``--profile``, writes the cProfile of all workloads and prints its top entries by own time.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "emulator")]

from dataverse_emulator.app import Emulator  # noqa: E402
from dataverse_emulator.config import EmulatorConfig  # noqa: E402
from dataverse_emulator.http import Headers, Request  # noqa: E402
from dataverse_emulator.schema import TableDef, build_schema  # noqa: E402

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

    def bulk_changes(self, body: dict[str, Any]) -> None:
        resp, _ = self.emulator.handle(Request("POST", "/_emulator/bulk-changes", body=json.dumps(body).encode(),
                                               headers=Headers({"Content-Type": "application/json"}),
                                               scheme_host=ORIGIN))
        assert resp.status == 200, resp.body

    def pages(self, url: str, prefer: str) -> list[dict[str, Any]]:
        """Every page of a read, following nextLinks."""
        out = []
        next_url: str | None = url
        while next_url:
            page = self.get(next_url, prefer)
            out.append(page)
            next_url = page.get("@odata.nextLink")
        return out


class TlsClient(Client):
    """The same requests over HTTPS to an emulator process. ``cpu`` is that process's CPU since the
    client was made (or ``cpu`` was last set): it serves nobody else meanwhile, and one reading per
    workload avoids adding up the 10 ms granularity of per-request readings."""

    def __init__(self, emulator: Any) -> None:
        import requests

        self.process = emulator
        self._base = emulator.cpu_seconds()
        self.requests = self.rows = 0
        info = emulator.info
        self.session = requests.Session()
        self.session.verify = info["ca_bundle"]
        self.session.trust_env = False
        token = self.session.post(f"https://{info['authority_host']}/{info['tenant_id']}/oauth2/v2.0/token", data={
            "grant_type": "client_credentials", "client_id": info["client_id"],
            "client_secret": info["client_secret"], "scope": f"{info['dataverse_url']}/.default"}).json()
        self.session.headers.update({"Authorization": f"Bearer {token['access_token']}", "Accept": "application/json",
                                     "OData-MaxVersion": "4.0", "OData-Version": "4.0"})
        self.api = info["api_url"]

    @property  # type: ignore[override]
    def cpu(self) -> float:
        return self.process.cpu_seconds() - self._base

    @cpu.setter
    def cpu(self, value: float) -> None:
        self._base = self.process.cpu_seconds() - value

    def get(self, url: str, prefer: str | None = None) -> Any:
        resp = self.session.get(url if "://" in url else self.api + url, headers={"Prefer": prefer} if prefer else {})
        if resp.status_code != 200:
            raise RuntimeError(f"{url}: {resp.status_code} {resp.text[:300]}")
        self.requests += 1
        if not resp.headers.get("Content-Type", "").startswith("application/json"):
            return resp.text
        payload = resp.json()
        self.rows += len(payload["value"]) if isinstance(payload.get("value"), list) else 0
        return payload

    def bulk_changes(self, body: dict[str, Any]) -> None:
        self.process.admin("POST", "bulk-changes", body)


def query(**params: str) -> str:
    return urllib.parse.urlencode(params, quote_via=urllib.parse.quote, safe="$(),'")


def workloads(tables: list[TableDef]) -> dict[str, Callable[[Client], None]]:
    def sdk(c: Client) -> None:
        for t in tables:
            c.pages(t.entity_set_name, PAGE)

    def select(t: TableDef) -> str:
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
        links = {}
        for t in tables:
            pages = c.pages(f"{t.entity_set_name}?{query(**{'$select': select(t)})}", f"odata.track-changes,{PAGE}")
            links[t.logical_name] = pages[-1]["@odata.deltaLink"]
        c.bulk_changes({"tables": [t.logical_name for t in tables], "fraction": 0.01, "delete_share": 0.2, "seed": 1})
        c.cpu = c.rows = c.requests = 0  # only the delta reads count
        for t in tables:
            c.pages(links[t.logical_name], f"odata.track-changes,{FORMATTED},{PAGE}")

    return {"sdk": sdk, "loader-tracked": tracked, "loader-walk": walk, "loader-delta": delta}


def _report(name: str, client: Client) -> None:
    per_row = 1e6 * client.cpu / client.rows if client.rows else float("nan")
    print(f"{name:15s} requests {client.requests:4d}  rows {client.rows:7d}  CPU {client.cpu:7.3f} s  "
          f"{per_row:5.1f} µs/row")


def _largest(schema: dict[str, TableDef], counts: dict[str, int], n: int) -> list[TableDef]:
    tracked = sorted((t for t in schema.values() if t.change_tracking), key=lambda t: -counts[t.logical_name])
    return tracked[:n]


def in_process(a: argparse.Namespace, chosen: list[str] | None) -> None:
    with tempfile.TemporaryDirectory() as state:
        emulator = Emulator(EmulatorConfig(state_dir=Path(state), scale=a.scale))
        emulator.bind(ORIGIN)
        tables = _largest(emulator.schema, {n: emulator.store.count(n) for n in emulator.schema}, a.tables)
        print(f"scale {a.scale}, in process; tables: "
              + ", ".join(f"{t.logical_name} ({emulator.store.count(t.logical_name)})" for t in tables))
        profiler = cProfile.Profile() if a.profile else None
        for name, run in workloads(tables).items():
            if chosen is None or name in chosen:
                client = Client(emulator, profiler)
                run(client)
                _report(name, client)
        if profiler is not None:
            profiler.dump_stats(a.profile)
            pstats.Stats(profiler).sort_stats("tottime").print_stats(a.top)


def over_tls(a: argparse.Namespace, chosen: list[str] | None) -> None:
    from bench.emulator_process import EmulatorProcess
    from bench.settings import BenchSettings

    schema = build_schema(EmulatorConfig(scale=a.scale))
    settings = BenchSettings(latency_ms=0.0, latency_per_row_ms=0.0)
    with tempfile.TemporaryDirectory() as state, \
            EmulatorProcess(settings, Path(state), Path(state) / "emulator.log", workers=a.scale) as emulator:
        client = TlsClient(emulator)
        counts = {}
        for name in schema:  # one at a time: a table the app may not read is refused alone
            try:
                reply = client.get(f"RetrieveTotalRecordCount(EntityNames=['{name}'])")
                counts[name] = reply["EntityRecordCountCollection"]["Values"][0]
            except RuntimeError:
                counts[name] = -1
        tables = _largest(schema, counts, a.tables)
        print(f"scale {a.scale}, emulator process over TLS; tables: " + ", ".join(t.logical_name for t in tables))
        for name, run in workloads(tables).items():
            if chosen is None or name in chosen:
                client = TlsClient(emulator)
                run(client)
                _report(name, client)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--scale", type=int, default=8000, help="HR workers (≈12 rows each)")
    p.add_argument("--tables", type=int, default=3, help="the N largest change-tracked tables")
    p.add_argument("--only", default="", help="comma-separated workload names (default: all)")
    p.add_argument("--profile", type=Path, help="write the cProfile stats here and print the top entries")
    p.add_argument("--top", type=int, default=25)
    p.add_argument("--tls", action="store_true", help="an emulator process over HTTPS (no --profile)")
    a = p.parse_args()
    chosen = [n for n in a.only.split(",") if n] or None
    (over_tls if a.tls else in_process)(a, chosen)


if __name__ == "__main__":
    main()

"""The peer baseline's loading process: Microsoft's Python SDK (``PowerPlatform-Dataverse-Client``)
reading tables the way a naive reader does. ``<peer venv python> bench/peer_sdk.py '<json>'``.

It runs in its own virtual environment (``bench/peer_venv.py``), so it imports nothing of this
project: standard library and the SDK only. Every listed table is read in full, every column,
``Prefer: odata.maxpagesize=5000``, following ``@odata.nextLink``; rows are counted and dropped
(no change tracking, no warehouse). ``workers`` 1 reads one table after another; more read that
many tables at a time from a thread pool, one SDK client per thread. The SDK has no 429 retry: a
refused table is reported as failed, not retried.

The JSON argument: ``info`` (the emulator's ready line), ``tables`` (logical names), ``workers``,
``page_size``. The last stdout line is one JSON object: wall seconds, CPU seconds, peak RSS and
per-table rows, pages, seconds and error.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import threading
import time
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import Any

HTTP_TIMEOUT_S = 60.0  # the SDK's GET default is 10 s; a busy 2-core machine can be slower than that


class StaticToken:
    """An ``azure.core.credentials.TokenCredential`` over one client-credentials token (the SDK asks
    for ``<base_url>/.default``, the scope it was issued for). The run is shorter than its life."""

    def __init__(self, info: dict[str, Any]) -> None:
        from azure.core.credentials import AccessToken

        body = urllib.parse.urlencode({
            "grant_type": "client_credentials", "client_id": info["client_id"],
            "client_secret": info["client_secret"], "scope": f"{info['dataverse_url']}/.default",
        }).encode()
        url = f"https://{info['authority_host']}/{info['tenant_id']}/oauth2/v2.0/token"
        import ssl

        context = ssl.create_default_context(cafile=info["ca_bundle"])
        with urllib.request.urlopen(urllib.request.Request(url, data=body), context=context, timeout=60) as resp:
            token = json.loads(resp.read())
        self._token = AccessToken(token["access_token"], int(time.time()) + int(token["expires_in"]))

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        return self._token


def read_table(client: Any, table: str, page_size: int) -> dict[str, Any]:
    started = time.monotonic()
    rows = pages = 0
    error = None
    try:
        for page in client.records.list_pages(table, page_size=page_size):
            rows += len(page)
            pages += 1
    except Exception as exc:  # noqa: BLE001 - a refused table is a result of the run, like a 403
        error = f"{type(exc).__name__}: {str(exc)[:200]}"
    return {"table": table, "rows": rows, "pages": pages, "seconds": round(time.monotonic() - started, 3),
            "error": error}


def run(args: dict[str, Any]) -> dict[str, Any]:
    from PowerPlatform.Dataverse.client import DataverseClient
    from PowerPlatform.Dataverse.core.config import DataverseConfig

    info = args["info"]
    os.environ["REQUESTS_CA_BUNDLE"] = info["ca_bundle"]  # the SDK's requests session trusts the emulator's CA
    credential = StaticToken(info)
    local = threading.local()

    def client() -> Any:
        if not hasattr(local, "client"):
            local.client = DataverseClient(info["dataverse_url"], credential,
                                           DataverseConfig(http_timeout=HTTP_TIMEOUT_S))
        return local.client

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=args["workers"], thread_name_prefix="peer") as pool:
        tables = list(pool.map(lambda t: read_table(client(), t, args["page_size"]), args["tables"]))
    wall = time.monotonic() - started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {"wall_seconds": round(wall, 3), "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 3),
            "peak_rss_mb": round(usage.ru_maxrss / 1024, 1), "tables": tables}


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: bench/peer_sdk.py '<json arguments>' (run by bench/run.py)", file=sys.stderr)
        return 2
    print(json.dumps(run(json.loads(argv[0]))), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

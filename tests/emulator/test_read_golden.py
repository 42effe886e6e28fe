"""Byte-for-byte wire output of the read paths, against responses the emulator gave before its
serialisation was optimised (issue #18): collections with and without annotations (every table,
every attribute type), ``$select``, paging by ``$skiptoken``, key-range ``$filter``, ``$orderby``,
``$expand``, counts, metadata levels, errors, a change-tracking initial read and delta reads after
writes (create, update, delete, ``/_emulator/bulk-changes``), which also shows no cache outlives a write.

The emulator runs over TLS with its clock frozen, so generated data, ``createdon`` and delta tokens
are the same on every run; the origin (a free port) is replaced by ``ORIGIN`` in the stored text.
``golden/read_responses.jsonl`` holds one exchange per line. Regenerate it (``python
tests/emulator/test_read_golden.py``) only for an intended change of the wire format, never to
make this test pass after a refactoring.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests

from dataverse_emulator.clock import Clock
from dataverse_emulator.security import DEFAULT_ROLE
from dataverse_emulator.testing import running_emulator
from dataverse_emulator.webapi_rows import FORMATTED as FORMATTED_TERM

GOLDEN = Path(__file__).parent / "golden" / "read_responses.jsonl"
FROZEN = datetime(2026, 6, 1, 9, 30, 15, tzinfo=UTC)
ORIGIN = "https://origin.invalid"
FORMATTED = 'odata.include-annotations="OData.Community.Display.V1.FormattedValue"'
KEPT_HEADERS = ("Content-Type", "Preference-Applied", "OData-Version", "ETag", "OData-EntityId")
# A few tables whose columns cover lookups, choices, booleans, decimals, money, integers and dates.
SAMPLED = ("cdm_worker", "cdm_employment", "mshr_hcmworkerskillentity", "cdm_job",
           "cdm_workerfixedcompensation", "cdm_workerpersonaldetail")


class _Exchanges:
    """Requests to one emulator, each recorded as a JSON-ready dict with the origin normalised."""

    def __init__(self, session: requests.Session, info: dict[str, Any]) -> None:
        self.session = session
        self.origin = info["dataverse_url"]
        self.api = info["api_url"]
        self.records: list[dict[str, Any]] = []

    def send(self, method: str, url: str, *, prefer: str | None = None, accept: str = "application/json",
             body: Any = None) -> dict[str, Any]:
        full = url if url.startswith("https://") else self.api + url
        headers = {"Accept": accept, "OData-MaxVersion": "4.0", "OData-Version": "4.0"}
        if prefer is not None:
            headers["Prefer"] = prefer
        if body is not None:
            headers["Content-Type"] = "application/json"
        resp = self.session.request(method, full, headers=headers, data=None if body is None else json.dumps(body))
        record = {
            "request": [method, full.replace(self.origin, ORIGIN), prefer, accept, body],
            "status": resp.status_code,
            "headers": {k: resp.headers[k].replace(self.origin, ORIGIN) for k in KEPT_HEADERS if k in resp.headers},
            "body": resp.content.decode("utf-8").replace(self.origin, ORIGIN),
        }
        self.records.append(record)
        return record

    def pages(self, url: str, *, prefer: str, limit: int = 1000) -> dict[str, Any]:
        """The pages of a read (up to ``limit``); returns the last page's payload."""
        for _ in range(limit):
            payload = json.loads(self.send("GET", url, prefer=prefer)["body"])
            link = payload.get("@odata.nextLink")
            if link is None:
                break
            url = link.replace(ORIGIN, self.origin)
        return payload


def _scenario(x: _Exchanges, app: Any) -> None:
    schema = app.schema
    security = app.security  # the default role reads no personal details and writes no HR data
    security.define_role("Golden", {t: {a: "organization" for a in ("read", "create", "write", "delete")}
                                    for t in ("cdm_company", "cdm_employment", "cdm_worker", "cdm_workerpersonaldetail")})
    security.set_roles(app.config.client_id, [DEFAULT_ROLE, "Golden"])
    for table in schema.values():  # every table, every attribute type, all annotations
        x.send("GET", f"{table.entity_set_name}", prefer='odata.include-annotations="*",odata.maxpagesize=2')
    for name in SAMPLED:
        t = schema[name]
        every = ",".join(t.wire_name(a) for a in t.attributes.values())
        x.send("GET", t.entity_set_name, prefer="odata.maxpagesize=3")
        x.pages(f"{t.entity_set_name}?$select={every}&$count=true", prefer=f"{FORMATTED},odata.maxpagesize=4",
                limit=2)
        x.send("GET", f"{t.entity_set_name}/$count")
    ids = [r["cdm_workerid"] for r in app.store.iter_rows("cdm_worker")]
    lo, hi = ids[len(ids) // 4], ids[len(ids) // 2]
    walk = f"cdm_workers?$select=cdm_workernumber,cdm_type,cdm_birthdate&$filter=cdm_workerid ge {lo} and cdm_workerid lt {hi}"
    x.pages(walk, prefer=f"{FORMATTED},odata.maxpagesize=4")
    x.send("GET", f"cdm_workers?$filter=cdm_workerid lt {lo}&$select=cdm_workernumber", prefer="odata.maxpagesize=4")
    x.send("GET", f"cdm_workers/$count?$filter=cdm_workerid ge {hi}")
    x.pages("cdm_workers?$select=cdm_lastname,cdm_birthdate&$orderby=cdm_lastname desc&$filter=statecode eq 0",
            prefer=f"{FORMATTED},odata.maxpagesize=7")
    x.send("GET", "cdm_jobpositions?$select=cdm_jobpositionnumber&$expand=cdm_JobId($select=cdm_name)&$top=3",
           prefer='odata.include-annotations="*"')
    x.send("GET", "cdm_employments?$top=2", accept="application/json;odata.metadata=full")
    x.send("GET", "cdm_employments?$top=2", accept="application/json;odata.metadata=none", prefer=FORMATTED)
    x.send("GET", f"cdm_workers({ids[3]})", prefer='odata.include-annotations="*"')
    x.send("GET", f"cdm_workers({ids[3]})/cdm_birthdate")
    security.secure_column("cdm_worker", "cdm_birthdate")  # field security: the column comes back null
    security.set_field_profiles(app.config.client_id, [])
    x.send("GET", "cdm_workers?$select=cdm_workernumber,cdm_birthdate&$top=3", prefer='odata.include-annotations="*"')
    x.send("GET", f"cdm_workers({ids[3]})?$select=cdm_birthdate,cdm_type", prefer=FORMATTED)
    x.send("GET", "cdm_workers?$select=nosuchcolumn", prefer='odata.include-annotations="*"')
    x.send("GET", "cdm_workers?$top=1", prefer='odata.include-annotations="Microsoft.Dynamics.CRM.*"')
    x.send("GET", "cdm_workers?$top=1&$count=true",
           prefer='odata.include-annotations="*,-OData.Community.Display.V1.FormattedValue"')

    # Change tracking: initial read, writes, delta reads; the plain reads after the writes show them.
    tracked = "cdm_employments?$select=cdm_employmentnumber,_cdm_workerid_value,cdm_validfrom,cdm_employernoticeamount"
    prefer = f"odata.track-changes,{FORMATTED},odata.maxpagesize=6"
    delta_link = x.pages(tracked, prefer=prefer)["@odata.deltaLink"].replace(ORIGIN, x.origin)
    company = "0a7f3c2e-5b1d-4e8f-9a6c-2d4b8e1f7c35"
    x.send("POST", "cdm_companies", body={"cdm_companyid": company, "cdm_name": "Golden Ltd", "cdm_companycode": "GLD"})
    employments = [r["cdm_employmentid"] for r in app.store.iter_rows("cdm_employment")]
    x.send("PATCH", f"cdm_employments({employments[2]})", body={"cdm_employernoticeamount": 12.5})
    x.send("PATCH", f"cdm_workers({ids[3]})", body={"cdm_lastname": "Changed", "cdm_birthdate": "1990-02-03"})
    x.send("DELETE", f"cdm_employments({employments[5]})")
    x.send("POST", f"{x.origin}/_emulator/bulk-changes",
           body={"tables": ["cdm_employment"], "fraction": 0.1, "delete_share": 0.3, "seed": 7})
    x.pages(delta_link, prefer=prefer)
    x.send("GET", f"cdm_employments/$count?$deltatoken={delta_link.split('$deltatoken=')[1]}")
    x.send("GET", f"cdm_workers({ids[3]})", prefer='odata.include-annotations="*"')
    x.send("GET", f"cdm_companies({company})", prefer=FORMATTED)
    x.send("GET", "cdm_employments?$select=cdm_employmentnumber,cdm_employernoticeamount&$top=12", prefer=FORMATTED)
    x.pages(tracked, prefer=prefer, limit=2)


def record(state_dir: Path) -> list[dict[str, Any]]:
    """Run the scenario on a fresh emulator with its clock frozen at ``FROZEN``."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(Clock, "now", lambda self: FROZEN + self._offset)
        with running_emulator(state_dir, scale=20, seed=18) as emu:
            info = emu.info
            session = requests.Session()
            session.verify = info["ca_bundle"]
            session.trust_env = False
            token = session.post(f"https://{info['authority_host']}/{info['tenant_id']}/oauth2/v2.0/token", data={
                "grant_type": "client_credentials", "client_id": info["client_id"],
                "client_secret": info["client_secret"], "scope": f"{info['dataverse_url']}/.default",
            }).json()["access_token"]
            session.headers["Authorization"] = f"Bearer {token}"
            x = _Exchanges(session, info)
            _scenario(x, emu.app)
            session.close()
            return x.records


def _golden() -> Iterator[dict[str, Any]]:
    with GOLDEN.open(encoding="utf-8") as f:
        for line in f:
            yield json.loads(line)


def test_read_responses_match_golden(emulator_state_dir: Path) -> None:
    expected = list(_golden())
    got = record(emulator_state_dir)
    assert len(got) == len(expected)
    for want, have in zip(expected, got, strict=True):
        assert have["request"] == want["request"]
        assert (have["status"], have["headers"]) == (want["status"], want["headers"]), want["request"]
        assert have["body"] == want["body"], want["request"]


if __name__ == "__main__":  # regenerate: only for an intended wire-format change (see the docstring)
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        records = record(Path(tmp))
    GOLDEN.parent.mkdir(exist_ok=True)
    GOLDEN.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    print(f"{len(records)} exchanges -> {GOLDEN}", file=sys.stderr)


def test_reads_after_writes_serve_the_written_values(dv) -> None:
    """Nothing the serialiser keeps between requests (compiled layouts, date labels) holds data: after
    an update of a lookup's target, of a date, a delete and ``/_emulator/bulk-changes``, the same
    read serves the new values."""
    app = dv.app
    app.security.define_role("Writer", {t: {a: "organization" for a in ("read", "write", "delete")}
                                        for t in ("cdm_employment", "cdm_worker")})
    app.security.set_roles(dv.emulator.info["client_id"], [DEFAULT_ROLE, "Writer"])
    url = "cdm_employments?$select=_cdm_workerid_value,cdm_validfrom"

    def read() -> dict[str, dict[str, Any]]:
        resp = dv.get(url, prefer=f"{FORMATTED},odata.maxpagesize=5000")
        assert resp.status_code == 200, resp.text
        return {r["cdm_employmentid"]: r for r in resp.json()["value"]}

    before = read()
    first, second = list(before)[:2]
    worker = before[first]["_cdm_workerid_value"]
    name_key, date_key = f"_cdm_workerid_value@{FORMATTED_TERM}", f"cdm_validfrom@{FORMATTED_TERM}"
    assert dv.session.patch(dv.api + f"cdm_workers({worker})", json={"cdm_fullname": "Renamed Worker"}).status_code == 204
    assert dv.session.patch(dv.api + f"cdm_employments({first})", json={"cdm_validfrom": "2031-12-24T18:05:00Z"}
                            ).status_code == 204
    assert dv.session.delete(dv.api + f"cdm_employments({second})").status_code == 204
    after = read()
    assert after[first][name_key] == "Renamed Worker" != before[first][name_key]
    assert (after[first]["cdm_validfrom"], after[first][date_key]) == ("2031-12-24T18:05:00Z", "12/24/2031 6:05 PM")
    assert second not in after and len(after) == len(before) - 1
    assert all(r[name_key] == "Renamed Worker" for r in after.values() if r["_cdm_workerid_value"] == worker)
    changed = dv.session.post(f"{dv.emulator.info['dataverse_url']}/_emulator/bulk-changes",
                              json={"tables": ["cdm_employment"], "fraction": 0.5, "delete_share": 0.5, "seed": 3})
    assert changed.status_code == 200, changed.text
    counts = changed.json()
    final = read()
    assert len(final) == len(after) - counts["deleted"]["cdm_employment"]
    etags = sum(1 for k, r in final.items() if r["@odata.etag"] != after[k]["@odata.etag"])
    assert etags == counts["updated"]["cdm_employment"] > 0

"""What the URS tables should hold, computed straight from the emulator's HR rows.

Independent of ``hr_dataverse.urs``: it reads ``app.store`` (not the warehouse) and restates the
documented rules (README / rules.py docstring) in the simplest possible form, so a bug in the mapper's
code cannot hide in the expectation.
"""

from __future__ import annotations

from collections import Counter
from datetime import date
from typing import Any

P = "mshr_"
ACTIVE_STATUS = 754400000
ACTUAL = 200000000


def _day(value: str | None) -> str | None:
    return value[:10] if value else None


def eligible_workers(store: Any, today: date) -> dict[str, dict]:
    """Workers that should have an active resource: status employed and an employment current today."""
    day = today.isoformat()
    out = {}
    for worker in store.iter_rows("cdm_worker"):
        if worker.get("cdm_status") != ACTIVE_STATUS:
            continue
        for emp in store.find("cdm_employment", "cdm_workerid", worker["cdm_workerid"]):
            start, end = _day(emp.get("cdm_employmentstartdate")), _day(emp.get("cdm_employmentenddate"))
            if (start is None or start <= day) and (end is None or end >= day):
                out[worker["cdm_workerid"]] = worker
                break
    return out


def expected_catalogue(store: Any) -> dict[str, Counter]:
    models = {m[f"{P}hcmratingmodelentityid"]: m for m in store.iter_rows(f"{P}hcmratingmodelentity")}
    factors: dict[str, list[tuple[str, int]]] = {k: [] for k in models}
    for level in store.iter_rows(f"{P}hcmratinglevelentity"):
        factors[level[f"{P}fk_ratingmodelentity_id"]].append((level[f"{P}description"], level[f"{P}factor"]))
    return {
        "ratingmodel": Counter((m[f"{P}ratingmodelid"], min(f for _, f in factors[k]), max(f for _, f in factors[k]))
                               for k, m in models.items()),
        "ratingvalue": Counter((models[k][f"{P}ratingmodelid"], name, f) for k, lv in factors.items() for name, f in lv),
        "characteristic": Counter(
            [(s[f"{P}skillid"], 1, s.get(f"{P}description")) for s in store.iter_rows(f"{P}hcmskillentity")]
            + [(c[f"{P}certificatetype"], 2, c.get(f"{P}description"))
               for c in store.iter_rows(f"{P}hcmcertificatetypeentity")]),
    }


def expected_links(store: Any, workers: dict[str, dict], today: date, *, keep_expired: bool = False) -> Counter:
    """(worker id, characteristic name, type, rating value name or None) per link the workers should have."""
    day = today.isoformat()
    skills = {s[f"{P}hcmskillentityid"]: s[f"{P}skillid"] for s in store.iter_rows(f"{P}hcmskillentity")}
    levels = {lv[f"{P}hcmratinglevelentityid"]: lv[f"{P}description"] for lv in store.iter_rows(f"{P}hcmratinglevelentity")}
    types = {c[f"{P}hcmcertificatetypeentityid"]: c[f"{P}certificatetype"]
             for c in store.iter_rows(f"{P}hcmcertificatetypeentity")}
    links: Counter = Counter()
    for worker_id in workers:
        latest: dict[str, dict] = {}
        for ws in store.find(f"{P}hcmworkerskillentity", f"{P}fk_worker_id", worker_id):
            if ws[f"{P}leveltype"] != ACTUAL:
                continue
            seen = latest.get(ws[f"{P}fk_skill_id"])
            if seen is None or (ws[f"{P}leveldate"], ws[f"{P}hcmworkerskillentityid"]) > (
                    seen[f"{P}leveldate"], seen[f"{P}hcmworkerskillentityid"]):
                latest[ws[f"{P}fk_skill_id"]] = ws
        for skill_id, ws in latest.items():
            links[(worker_id, skills[skill_id], 1, levels.get(ws.get(f"{P}fk_ratinglevel_id")))] += 1
        held = set()
        for cert in store.find(f"{P}hcmworkercertificateentity", f"{P}fk_worker_id", worker_id):
            start, end = _day(cert[f"{P}startdate"]), _day(cert.get(f"{P}enddate"))
            if start <= day and (keep_expired or end is None or end >= day):
                held.add(types[cert[f"{P}fk_certificatetype_id"]])
        for code in held:
            links[(worker_id, code, 2, None)] += 1
    return links


def urs_snapshot(store: Any, worker_column: str = "cdm_workerid") -> dict[str, Counter]:
    """The URS tables as comparable tuples (lookups resolved to names; resources to their worker)."""
    models = {r["ratingmodelid"]: r for r in store.iter_rows("ratingmodel")}
    values = {r["ratingvalueid"]: r for r in store.iter_rows("ratingvalue")}
    chars = {r["characteristicid"]: r for r in store.iter_rows("characteristic")}
    resources = {r["bookableresourceid"]: r for r in store.iter_rows("bookableresource")}
    return {
        "ratingmodel": Counter((r["name"], r["minratingvalue"], r["maxratingvalue"]) for r in models.values()
                               if r["statecode"] == 0),
        "ratingvalue": Counter((models[r["ratingmodel"]]["name"], r["name"], r["value"]) for r in values.values()
                               if r["statecode"] == 0),
        "characteristic": Counter((r["name"], r["characteristictype"], r.get("description")) for r in chars.values()
                                  if r["statecode"] == 0),
        "resource": Counter((r.get(worker_column) or r["bookableresourceid"], r["name"], r["statecode"])
                            for r in resources.values()),
        "link": Counter((resources[r["resource"]].get(worker_column) or r["resource"],
                         chars[r["characteristic"]]["name"], chars[r["characteristic"]]["characteristictype"],
                         values[r["ratingvalue"]]["name"] if r.get("ratingvalue") else None)
                        for r in store.iter_rows("bookableresourcecharacteristic")),
    }


def expected_after_mapping(store: Any, before: dict[str, Counter], today: date, *,
                           worker_column: str = "cdm_workerid") -> dict[str, Counter]:
    """The whole URS state after a full mapping of the store's HR data onto ``before`` (the URS rows
    that existed before the first mapping run): earlier rows stay, mapped rows are added once."""
    workers = eligible_workers(store, today)
    catalogue = expected_catalogue(store)
    resources = Counter({k: v for k, v in before["resource"].items() if k[0] not in workers})
    for worker_id, worker in workers.items():
        resources[(worker_id, worker["cdm_fullname"], 0)] += 1
    links = Counter({k: v for k, v in before["link"].items() if k[0] not in workers})
    links.update(expected_links(store, workers, today))
    return {
        "ratingmodel": before["ratingmodel"] + catalogue["ratingmodel"],
        "ratingvalue": before["ratingvalue"] + catalogue["ratingvalue"],
        "characteristic": before["characteristic"] + catalogue["characteristic"],
        "resource": resources,
        "link": links,
    }

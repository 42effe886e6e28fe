"""HR changes made while the emulator runs, as HR (through dual-write and the virtual tables) would
make them. Used by the ``mutate`` CLI command and the admin HTTP endpoint, through ``apply``.

Every function takes the Store first, makes all its writes under the store lock (so pollers never
see half a change), and returns a small dict: ``{"action", "worker_number", "changes": [{"table",
"id", "op"}]}`` with op one of create/update/delete. Bad input raises ``MutationError`` with a
message naming what was not found.

Worker deletion follows parental-cascade semantics (an assumption; HCM Common's relationship
behaviours are not documented): employments, position assignments, addresses, personal details,
worker skills and worker certificates go with the worker; a bookable resource linked to the worker
survives with its worker lookup cleared (RemoveLink, like URS's own lookups); positions stay, vacant.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from .schema import LEVEL_TYPE_ACTUAL, WORKER_STATUS_ACTIVE, WORKER_STATUS_INACTIVE
from .store import Row, Store, StoreError

Result = dict[str, Any]


class MutationError(Exception):
    """A mutation could not be applied; the message says why (unknown worker, skill, ...)."""


# --- helpers -----------------------------------------------------------------------------------


def _prefix(store: Store) -> str:
    for name in store.schema:
        if name.endswith("hcmworkerskillentity"):
            return name[: -len("hcmworkerskillentity")]
    raise MutationError("The store has no HR virtual tables (worker skill table missing).")


def _find(store: Store, table: str, **match: Any) -> list[Row]:
    """Rows equal on every given column; the first column goes through the store's index."""
    (key, value), *rest = match.items()
    return [row for row in store.find(table, key, value) if all(row.get(k) == v for k, v in rest)]


def _worker(store: Store, worker_number: str) -> Row:
    found = _find(store, "cdm_worker", cdm_workernumber=str(worker_number))
    if not found:
        raise MutationError(f"Unknown worker number {worker_number!r}.")
    return found[0]


def _by_code_or_id(store: Store, table: str, code_column: str, value: str, what: str,
                   rows: list[Row] | None = None) -> Row:
    """A catalogue row by its business id (case-insensitive) or its GUID."""
    pk = store.schema[table].primary_id
    wanted = str(value).strip().lower()
    for row in rows if rows is not None else store.iter_rows(table):
        if str(row.get(code_column, "")).lower() == wanted or row[pk] == wanted:
            return row
    raise MutationError(f"Unknown {what} {value!r}.")


def _day(store: Store, value: date | datetime | str | None, default_offset_days: int = 0) -> str:
    """A date-like input as the row format ``YYYY-MM-DDT00:00:00Z`` (default: clock's today + offset)."""
    if value is None:
        value = store.clock.now().date() + timedelta(days=default_offset_days)
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00")) if "T" in value else date.fromisoformat(value)
        except ValueError:
            raise MutationError(f"Invalid date {value!r}; expected YYYY-MM-DD.") from None
    if isinstance(value, datetime):
        value = value.astimezone(UTC).date() if value.tzinfo else value.date()
    if not isinstance(value, date):
        raise MutationError(f"Invalid date {value!r}; expected YYYY-MM-DD.")
    return f"{value:%Y-%m-%d}T00:00:00Z"


def _text(value: Any, what: str, max_length: int = 100) -> str:
    if not isinstance(value, str) or not value.strip():
        raise MutationError(f"{what} must be a non-empty string.")
    if len(value) > max_length:
        raise MutationError(f"{what} is longer than {max_length} characters.")
    return value.strip()


def _result(action: str, worker_number: str, changes: list[tuple[str, str, str]]) -> Result:
    return {"action": action, "worker_number": worker_number,
            "changes": [{"table": t, "id": i, "op": op} for t, i, op in changes]}


# --- worker lifecycle --------------------------------------------------------------------------


def change_job_title(store: Store, worker_number: str, new_title: str) -> Result:
    """Set the worker's job title (cdm_worker.cdm_profession)."""
    title = _text(new_title, "The job title")
    with store.lock:
        worker = _worker(store, worker_number)
        store.update("cdm_worker", worker["cdm_workerid"], {"cdm_profession": title})
    return _result("change_job_title", worker["cdm_workernumber"], [("cdm_worker", worker["cdm_workerid"], "update")])


def hire(store: Store, *, first_name: str, last_name: str, company_code: str | None = None,
         job_title: str | None = None) -> Result:
    """A new active employee: worker, job position (and the job, if the title is new), employment
    starting today and a primary position assignment. The result carries the new worker_number."""
    first, last = _text(first_name, "first_name"), _text(last_name, "last_name")
    with store.lock:
        companies = sorted(store.iter_rows("cdm_company"), key=lambda r: r["cdm_companycode"])
        if not companies:
            raise MutationError("There is no company to hire into.")
        company = (_by_code_or_id(store, "cdm_company", "cdm_companycode", company_code, "company code")
                   if company_code is not None else companies[0])
        changes: list[tuple[str, str, str]] = []
        today = _day(store, None)
        if job_title is None:
            job = min(store.iter_rows("cdm_job"), key=lambda r: r["cdm_name"], default=None)
            if job is None:
                raise MutationError("There is no job to hire into; pass job_title.")
        else:
            title = _text(job_title, "job_title")
            job = next((r for r in store.iter_rows("cdm_job")
                        if title.lower() in (r["cdm_name"].lower(), str(r.get("cdm_description", "")).lower())),
                       None)
            if job is None:
                job_id = store.insert("cdm_job", {"cdm_name": title, "cdm_description": title,
                                                  "cdm_validfrom": today, "cdm_allowunlimitedpositions": True})
                changes.append(("cdm_job", job_id, "create"))
                job = store.get("cdm_job", job_id)
        title = job.get("cdm_description") or job["cdm_name"]

        numbers = [r["cdm_workernumber"] for r in store.iter_rows("cdm_worker")]
        width = max([6] + [len(n) for n in numbers if n.isdigit()])
        number = f"{max([0] + [int(n) for n in numbers if n.isdigit()]) + 1:0{width}d}"
        position_numbers = {r["cdm_jobpositionnumber"] for r in store.iter_rows("cdm_jobposition")}
        position_number, k = f"P{number}", 1
        while position_number in position_numbers:
            k += 1
            position_number = f"P{number}-{k}"

        position_id = store.insert("cdm_jobposition", {
            "cdm_jobpositionnumber": position_number, "cdm_jobid": job["cdm_jobid"], "cdm_validfrom": today,
            "cdm_fulltimeequivalent": job.get("cdm_defaultfulltimeequivalent", 1.0)})
        worker_id = store.insert("cdm_worker", {
            "cdm_workernumber": number, "cdm_firstname": first, "cdm_lastname": last,
            "cdm_fullname": f"{first} {last}", "cdm_type": 754400000, "cdm_status": WORKER_STATUS_ACTIVE,
            "cdm_profession": title})
        employment_id = store.insert("cdm_employment", {
            "cdm_employmentnumber": f"E{number}", "cdm_workerid": worker_id,
            "cdm_companyid": company["cdm_companyid"], "cdm_workertype": 754400000,
            "cdm_employmentstartdate": today, "cdm_validfrom": today})
        assignment_id = store.insert("cdm_positionworkerassignmentmap", {
            "cdm_name": f"A{number}", "cdm_workerid": worker_id, "cdm_jobpositionid": position_id,
            "cdm_validfrom": today, "cdm_isprimaryposition": True})
        changes += [("cdm_jobposition", position_id, "create"), ("cdm_worker", worker_id, "create"),
                    ("cdm_employment", employment_id, "create"),
                    ("cdm_positionworkerassignmentmap", assignment_id, "create")]
    return _result("hire", number, changes)


def terminate(store: Store, worker_number: str, end_date: date | datetime | str | None = None) -> Result:
    """End the worker's current employment (default: today) and their open position assignments,
    and set cdm_status to inactive (754400001), as dual-write does for a terminated F&O worker."""
    with store.lock:
        worker = _worker(store, worker_number)
        end = _day(store, end_date)
        wid = worker["cdm_workerid"]
        current = [e for e in _find(store, "cdm_employment", cdm_workerid=wid)
                   if e.get("cdm_employmentenddate") is None or e["cdm_employmentenddate"] > end]
        if not current:
            raise MutationError(f"Worker {worker_number!r} has no current employment to end.")
        employment = max(current, key=lambda e: e.get("cdm_employmentstartdate", ""))
        changes = []
        store.update("cdm_employment", employment["cdm_employmentid"], {
            "cdm_employmentenddate": end, "cdm_validto": end, "cdm_lastdateworked": end})
        changes.append(("cdm_employment", employment["cdm_employmentid"], "update"))
        for a in _find(store, "cdm_positionworkerassignmentmap", cdm_workerid=wid):
            if a.get("cdm_validto") is None or a["cdm_validto"] > end:
                store.update("cdm_positionworkerassignmentmap", a["cdm_positionworkerassignmentmapid"],
                             {"cdm_validto": end})
                changes.append(("cdm_positionworkerassignmentmap", a["cdm_positionworkerassignmentmapid"], "update"))
        store.update("cdm_worker", wid, {"cdm_status": WORKER_STATUS_INACTIVE})
        changes.append(("cdm_worker", wid, "update"))
    return _result("terminate", worker["cdm_workernumber"], changes)


def delete_worker(store: Store, worker_number: str) -> Result:
    """Delete the worker and its dependent rows (cascade), clearing bookable-resource links."""
    p = _prefix(store)
    with store.lock:
        worker = _worker(store, worker_number)
        wid = worker["cdm_workerid"]
        changes = []
        dependents = [("cdm_employment", "cdm_workerid"), ("cdm_positionworkerassignmentmap", "cdm_workerid"),
                      ("cdm_workeraddress", "cdm_workerid"), ("cdm_workerpersonaldetail", "cdm_workerid"),
                      (f"{p}hcmworkerskillentity", f"{p}fk_worker_id"),
                      (f"{p}hcmworkercertificateentity", f"{p}fk_worker_id")]
        if "cdm_leaverequest" in store.schema:  # compensation and leave (schema_coverage); request lines first
            dependents += [("cdm_leaverequestdetail", "cdm_leaverequestid", r["cdm_leaverequestid"])
                           for r in _find(store, "cdm_leaverequest", cdm_workerid=wid)]
            dependents += [(t, "cdm_workerid") for t in ("cdm_workerfixedcompensation", "cdm_leaveenrollment",
                                                         "cdm_leaverequest", "cdm_leavebanktransaction")]
        for table, column, *value in dependents:
            pk = store.schema[table].primary_id
            for row in _find(store, table, **{column: value[0] if value else wid}):
                store.delete(table, row[pk])
                changes.append((table, row[pk], "delete"))
        resource_column = next((a.logical_name for a in store.schema["bookableresource"].lookups()
                                if a.targets == ("cdm_worker",)), None) if "bookableresource" in store.schema else None
        if resource_column:
            for row in _find(store, "bookableresource", **{resource_column: wid}):
                store.update("bookableresource", row["bookableresourceid"], {resource_column: None})
                changes.append(("bookableresource", row["bookableresourceid"], "update"))
        store.delete("cdm_worker", wid)
        changes.append(("cdm_worker", wid, "delete"))
    return _result("delete_worker", worker["cdm_workernumber"], changes)


# --- skills and certificates -------------------------------------------------------------------


def _skill_and_level(store: Store, skill_id: str, level_id: str | None) -> tuple[Row, Row | None]:
    p = _prefix(store)
    skill = _by_code_or_id(store, f"{p}hcmskillentity", f"{p}skillid", skill_id, "skill")
    if level_id is None:
        return skill, None
    levels = _find(store, f"{p}hcmratinglevelentity", **{f"{p}fk_ratingmodelentity_id": skill.get(f"{p}fk_ratingmodel_id")})
    try:
        level = _by_code_or_id(store, f"{p}hcmratinglevelentity", f"{p}ratinglevelid", level_id, "rating level",
                               rows=levels)
    except MutationError:
        valid = ", ".join(sorted(lv[f"{p}ratinglevelid"] for lv in levels))
        raise MutationError(f"Unknown rating level {level_id!r} for skill {skill[f'{p}skillid']!r} "
                            f"(rating model {skill.get(f'{p}ratingid')!r}; levels: {valid}).") from None
    return skill, level


def _actual_skill_rows(store: Store, worker: Row, skill: Row) -> list[Row]:
    p = _prefix(store)
    return _find(store, f"{p}hcmworkerskillentity", **{f"{p}fk_worker_id": worker["cdm_workerid"],
                                                        f"{p}fk_skill_id": skill[f"{p}hcmskillentityid"],
                                                        f"{p}leveltype": LEVEL_TYPE_ACTUAL})


def add_skill(store: Store, worker_number: str, skill_id: str, level_id: str) -> Result:
    """Give the worker an Actual rating on a skill (skill and level by business id or GUID)."""
    p = _prefix(store)
    with store.lock:
        worker = _worker(store, worker_number)
        skill, level = _skill_and_level(store, skill_id, level_id)
        if _actual_skill_rows(store, worker, skill):
            raise MutationError(f"Worker {worker_number!r} already has skill {skill[f'{p}skillid']!r}; "
                                "use rerate_skill.")
        number = worker["cdm_workernumber"]
        row_id = store.insert(f"{p}hcmworkerskillentity", {
            f"{p}personnelnumber": number, f"{p}fk_worker_id": worker["cdm_workerid"],
            f"{p}skillid": skill[f"{p}skillid"], f"{p}fk_skill_id": skill[f"{p}hcmskillentityid"],
            f"{p}ratingid": skill.get(f"{p}ratingid"), f"{p}levelid": level[f"{p}ratinglevelid"],
            f"{p}fk_ratinglevel_id": level[f"{p}hcmratinglevelentityid"], f"{p}leveltype": LEVEL_TYPE_ACTUAL,
            f"{p}leveldate": _day(store, None), f"{p}verified": 200000000,
            f"{p}primaryfield": f"{number}, {skill[f'{p}skillid']}"})
    return _result("add_skill", number, [(f"{p}hcmworkerskillentity", row_id, "create")])


def rerate_skill(store: Store, worker_number: str, skill_id: str, level_id: str) -> Result:
    """Change the level of the worker's Actual rating on a skill (level date becomes today)."""
    p = _prefix(store)
    with store.lock:
        worker = _worker(store, worker_number)
        skill, level = _skill_and_level(store, skill_id, level_id)
        rows = _actual_skill_rows(store, worker, skill)
        if not rows:
            raise MutationError(f"Worker {worker_number!r} has no rating on skill {skill[f'{p}skillid']!r}; "
                                "use add_skill.")
        changes = []
        for row in rows:
            row_id = row[f"{p}hcmworkerskillentityid"]
            store.update(f"{p}hcmworkerskillentity", row_id, {
                f"{p}levelid": level[f"{p}ratinglevelid"],
                f"{p}fk_ratinglevel_id": level[f"{p}hcmratinglevelentityid"],
                f"{p}leveldate": _day(store, None)})
            changes.append((f"{p}hcmworkerskillentity", row_id, "update"))
    return _result("rerate_skill", worker["cdm_workernumber"], changes)


def remove_skill(store: Store, worker_number: str, skill_id: str) -> Result:
    """Delete all of the worker's ratings (actual and target) on a skill."""
    p = _prefix(store)
    with store.lock:
        worker = _worker(store, worker_number)
        skill, _ = _skill_and_level(store, skill_id, None)
        rows = _find(store, f"{p}hcmworkerskillentity", **{f"{p}fk_worker_id": worker["cdm_workerid"],
                                                            f"{p}fk_skill_id": skill[f"{p}hcmskillentityid"]})
        if not rows:
            raise MutationError(f"Worker {worker_number!r} has no skill {skill[f'{p}skillid']!r}.")
        for row in rows:
            store.delete(f"{p}hcmworkerskillentity", row[f"{p}hcmworkerskillentityid"])
    return _result("remove_skill", worker["cdm_workernumber"],
                   [(f"{p}hcmworkerskillentity", r[f"{p}hcmworkerskillentityid"], "delete") for r in rows])


def _latest_certificate(store: Store, worker_number: str, certificate_type_id: str) -> tuple[Row, Row]:
    p = _prefix(store)
    worker = _worker(store, worker_number)
    ctype = _by_code_or_id(store, f"{p}hcmcertificatetypeentity", f"{p}certificatetype", certificate_type_id,
                           "certificate type")
    rows = _find(store, f"{p}hcmworkercertificateentity", **{
        f"{p}fk_worker_id": worker["cdm_workerid"], f"{p}fk_certificatetype_id": ctype[f"{p}hcmcertificatetypeentityid"]})
    if not rows:
        raise MutationError(f"Worker {worker_number!r} has no certificate of type "
                            f"{ctype[f'{p}certificatetype']!r}.")
    return worker, max(rows, key=lambda r: r[f"{p}startdate"])


def renew_certificate(store: Store, worker_number: str, certificate_type_id: str,
                      new_end_date: date | datetime | str) -> Result:
    """Move the expiry (mshr_enddate) of the worker's latest certificate of that type."""
    p = _prefix(store)
    with store.lock:
        worker, cert = _latest_certificate(store, worker_number, certificate_type_id)
        end = _day(store, new_end_date)
        row_id = cert[f"{p}hcmworkercertificateentityid"]
        store.update(f"{p}hcmworkercertificateentity", row_id, {f"{p}enddate": end})
    return _result("renew_certificate", worker["cdm_workernumber"], [(f"{p}hcmworkercertificateentity", row_id, "update")])


def expire_certificate(store: Store, worker_number: str, certificate_type_id: str,
                       end_date: date | datetime | str | None = None) -> Result:
    """Let the worker's latest certificate of that type lapse (expiry default: yesterday)."""
    p = _prefix(store)
    with store.lock:
        worker, cert = _latest_certificate(store, worker_number, certificate_type_id)
        end = _day(store, end_date, default_offset_days=-1)
        row_id = cert[f"{p}hcmworkercertificateentityid"]
        store.update(f"{p}hcmworkercertificateentity", row_id, {f"{p}enddate": end})
    return _result("expire_certificate", worker["cdm_workernumber"], [(f"{p}hcmworkercertificateentity", row_id, "update")])


# --- JSON dispatch -----------------------------------------------------------------------------

# action -> (function, spec-key aliases). Spec keys are the parameter names, plus these aliases.
ACTIONS: dict[str, tuple[Callable[..., Result], dict[str, str]]] = {
    "change_job_title": (change_job_title, {"title": "new_title"}),
    "hire": (hire, {}),
    "terminate": (terminate, {}),
    "delete_worker": (delete_worker, {}),
    "add_skill": (add_skill, {"skill": "skill_id", "level": "level_id"}),
    "rerate_skill": (rerate_skill, {"skill": "skill_id", "level": "level_id"}),
    "remove_skill": (remove_skill, {"skill": "skill_id"}),
    "renew_certificate": (renew_certificate, {"certificate_type": "certificate_type_id", "end_date": "new_end_date"}),
    "expire_certificate": (expire_certificate, {"certificate_type": "certificate_type_id"}),
}


def apply(store: Store, spec: dict[str, Any]) -> Result:
    """Run one mutation from a JSON spec such as
    ``{"action": "change_job_title", "worker_number": "000001", "title": "Senior Analyst"}``."""
    if not isinstance(spec, dict) or "action" not in spec:
        raise MutationError(f'A mutation spec is a JSON object with an "action" (one of {", ".join(ACTIONS)}).')
    action = spec["action"]
    if action not in ACTIONS:
        raise MutationError(f"Unknown action {action!r}; expected one of {', '.join(ACTIONS)}.")
    func, aliases = ACTIONS[action]
    kwargs = {aliases.get(k, k): v for k, v in spec.items() if k != "action"}
    params = [n for n in inspect.signature(func).parameters if n != "store"]
    unknown = sorted(set(kwargs) - set(params))
    if unknown:
        raise MutationError(f"{action}: unknown field(s) {unknown}; expected {params}.")
    try:
        inspect.signature(func).bind(store, **kwargs)
    except TypeError as exc:
        raise MutationError(f"{action}: {exc}; expected {params}.") from None
    try:
        return func(store, **kwargs)
    except StoreError as exc:  # e.g. a malformed GUID reaching the store
        raise MutationError(f"{action}: {exc}") from None

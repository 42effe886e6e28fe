"""The write-path check: before the mapping writes anything, prove Dataverse will accept the writes.

Checked only while the mapping is enabled (``run_mapping`` calls it first), with reads only:

1. the URS tables exist (the Scheduling solution is installed): ``EntityDefinitions(LogicalName=…)``
   per table, a 404 meaning the table is not there;
2. the Worker lookup the mapping links resources to workers with (``worker_column``) is a lookup
   column of ``bookableresource``;
3. the application user holds Create, Write and Read on every URS table it writes. The privilege
   names come from each table's metadata (``Privileges``: ``SecurityPrivilegeMetadata``), and
   ``WhoAmI`` + ``systemusers(<UserId>)/Microsoft.Dynamics.CRM.RetrieveUserSetOfPrivilegesByNames``
   (the documented function for the privileges a user holds through its roles and teams) says which
   it holds. A privilege held at any depth counts; rows owned by others need Organization depth to
   be updated, which the README's set-up asks for.

Every missing piece is a ``Blocker`` naming its fix; ``WritePathBlocked`` lists them all at once.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from ..dataverse import DataverseClient, NotFound
from ..dataverse.odata import check_name, is_guid, string_literal
from .errors import MappingError
from .rules import RESOURCE, TARGETS
from .settings import MappingSettings

NEEDED = ("Create", "Write", "Read")  # SecurityPrivilegeMetadata.PrivilegeType the mapping needs per table
FUNCTION = "Microsoft.Dynamics.CRM.RetrieveUserSetOfPrivilegesByNames"
ROLE_FIX = ("Power Platform admin center → Environments → <environment> → Settings → Users + permissions → "
            "Security roles → the application user's role")


class Check(StrEnum):
    """The three parts of the write path."""

    URS_TABLES = "urs tables"
    WORKER_LOOKUP = "worker lookup"
    PRIVILEGES = "privileges"


@dataclass(frozen=True)
class Blocker:
    check: Check
    cause: str
    fix: str

    def __str__(self) -> str:
        return f"{self.cause} Fix: {self.fix}"


class WritePathBlocked(MappingError):
    """The mapping would fail writing; ``blockers`` names each missing piece and its fix."""

    def __init__(self, blockers: list[Blocker]) -> None:
        self.blockers = blockers
        super().__init__("the write path to Dataverse is not ready, nothing was written:\n" +
                         "\n".join(f"  - {b}" for b in blockers))


def check_write_path(client: DataverseClient, settings: MappingSettings) -> None:
    """Raise ``WritePathBlocked`` unless every URS write of the mapping can succeed (see the module
    docstring). Other Dataverse errors (throttling, no application user) propagate as they are."""
    tables = [t.logical_name for t in TARGETS]
    privileges: dict[str, dict[str, str]] = {}  # table -> privilege type -> privilege name
    missing: list[str] = []
    blockers: list[Blocker] = []
    for table in tables:
        params = {"$select": "LogicalName,Privileges"}
        if table == RESOURCE.logical_name:
            column = check_name(settings.worker_column, "worker_column")
            params["$expand"] = (f"Attributes($select=LogicalName,AttributeType;"
                                 f"$filter=LogicalName eq {string_literal(column)})")
        try:
            body = client.request("GET", f"EntityDefinitions(LogicalName={string_literal(table)})",
                                  params=params).data
        except NotFound:
            missing.append(table)
            continue
        privileges[table] = {p.get("PrivilegeType"): p.get("Name") for p in body.get("Privileges") or []
                             if p.get("PrivilegeType") in NEEDED and p.get("Name")}
        if table == RESOURCE.logical_name:
            blocker = _worker_lookup(body.get("Attributes") or [], settings)
            if blocker:
                blockers.append(blocker)
    if missing:
        blockers.insert(0, Blocker(
            Check.URS_TABLES,
            f"The Universal Resource Scheduling table(s) {', '.join(missing)} do not exist in this environment: "
            "the Scheduling solution is not installed.",
            "install Universal Resource Scheduling in the environment (it comes with Dynamics 365 Field Service, "
            "Project Operations or the HCM Scheduling solution of the HR integration to URS), or turn the URS "
            "mapping off (urs_mapping enabled: false in the deployment settings)."))
    if privileges:
        blockers += _privileges(client, privileges)
    if blockers:
        raise WritePathBlocked(blockers)


def _worker_lookup(attributes: Iterable[dict], settings: MappingSettings) -> Blocker | None:
    found = next((a for a in attributes if a.get("LogicalName") == settings.worker_column), None)
    if found is not None and found.get("AttributeType") == "Lookup":
        return None
    what = ("has no column" if found is None else
            f"has a column of type {found.get('AttributeType')} (not a lookup) named")
    return Blocker(
        Check.WORKER_LOOKUP,
        f"bookableresource {what} '{settings.worker_column}', the Worker lookup the mapping links each "
        "resource to its HR worker with.",
        "install the 'Dynamics 365 Human Resources integration to URS' solution, which adds the Worker lookup "
        "to bookableresource; or, if the lookup has another name in this environment, set worker_column (and "
        "worker_navigation, its navigation property) in the deployment settings.")


def _privileges(client: DataverseClient, privileges: dict[str, dict[str, str]]) -> list[Blocker]:
    names = sorted({name for by_type in privileges.values() for name in by_type.values()})
    user_id = str(client.whoami().get("UserId") or "")
    if not is_guid(user_id):
        raise MappingError(f"WhoAmI returned no usable UserId ({user_id!r}); cannot check the app user's privileges")
    body = client.request(
        "GET", f"systemusers({user_id})/{FUNCTION}(PrivilegeNames=@p1)", params={"@p1": json.dumps(names)}).data
    held = {p.get("PrivilegeName") for p in body.get("RolePrivileges") or []}
    blockers = []
    for table, by_type in privileges.items():
        lacking = [kind for kind in NEEDED if by_type.get(kind) not in held]
        if not lacking:
            continue
        named = ", ".join(f"{kind} ({by_type[kind]})" if kind in by_type else kind for kind in lacking)
        blockers.append(Blocker(
            Check.PRIVILEGES,
            f"The application user (systemuser {user_id}) lacks {named} on {table}.",
            f"give its security role Create, Write and Read on {table} at Organization level ({ROLE_FIX}), "
            "or turn the URS mapping off."))
    return blockers

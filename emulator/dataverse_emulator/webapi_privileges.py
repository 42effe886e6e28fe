"""``systemusers(<id>)/Microsoft.Dynamics.CRM.RetrieveUserSetOfPrivilegesByNames(PrivilegeNames=@p1)``.

The documented function (bound to ``systemuser``) that lists which of the named privileges a user
holds through its roles. It answers 200 with a ``RetrieveUserSetOfPrivilegesByNamesResponse``:
``RolePrivileges``, a collection of ``RolePrivilege`` (``Depth`` as the PrivilegeDepth member name,
``PrivilegeId``, ``BusinessUnitId``, ``PrivilegeName``, ``RecordFilterId``,
``RecordFilterUniqueName``); privileges the user does not hold are simply absent.

UNCONFIRMED and chosen here: a name that is no privilege at all is absent like one not held; the
400 texts for a missing parameter or alias follow ``RetrieveTotalRecordCount``; asking about
another user needs Read on ``systemuser`` (403 ``prvReadsystemuser`` otherwise). An unknown user id
is the usual 404 ``0x80040217``. Only GET is accepted (it is a function).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .http import Request, Response, dataverse_error
from .odata.errors import ODataError
from .webapi_paths import Target, parse_literal, split_outside

if TYPE_CHECKING:
    from .security import Principal
    from .webapi import WebApi

FUNCTION = "RetrieveUserSetOfPrivilegesByNames"
ROW_NOT_FOUND = "0x80040217"
SYSTEMUSER_OTC = 8


def retrieve_user_set_of_privileges_by_names(api: WebApi, req: Request, principal: Principal,
                                             target: Target) -> Response:
    names = _names(req, target.params.get("PrivilegeNames"))
    user = api.security.user_by_id(target.key or "")
    if user is None:
        return dataverse_error(404, ROW_NOT_FOUND, f"systemuser With Id = {target.key} Does Not Exist")
    if user.user_id != principal.user_id:
        denied = api.security.check_privilege(principal, "systemuser", "read", object_type_code=SYSTEMUSER_OTC)
        if denied is not None:
            return denied
    return Response.json(200, {
        "@odata.context": api.context(req, f"Microsoft.Dynamics.CRM.{FUNCTION}Response"),
        "RolePrivileges": api.security.held_privileges(user, names),
    })


def _names(req: Request, raw: str | None) -> list[str]:
    """``PrivilegeNames``: inline ``['a','b']`` or an alias ``@p1`` with ``@p1=["a","b"]`` in the query."""
    if raw is None:
        raise ODataError(f"The parameter 'PrivilegeNames' of function '{FUNCTION}' is missing.")
    if raw.startswith("@"):
        alias = req.query.get(raw)
        if alias is None:
            raise ODataError(f"The parameter alias '{raw}' has no value.")
        raw = alias
    raw = raw.strip()
    if not (raw.startswith("[") and raw.endswith("]")):
        raise ODataError(f"The value '{raw}' of parameter 'PrivilegeNames' is not a collection of strings.")
    names = []
    for item in split_outside(raw[1:-1], ","):
        item = item.strip()
        if item.startswith('"') and item.endswith('"'):
            item = "'" + item[1:-1].replace("'", "''") + "'"
        value = parse_literal(item) if item else None
        if not isinstance(value, str):
            raise ODataError(f"The value '{raw}' of parameter 'PrivilegeNames' is not a collection of strings.")
        names.append(value)
    return names

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
from .webapi_paths import Target, collection_parameter

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
    names = collection_parameter(req.query, raw, "PrivilegeNames", FUNCTION)
    if not all(isinstance(name, str) for name in names):
        raise ODataError(f"The value '{raw}' of parameter 'PrivilegeNames' is not a collection of strings.")
    return names

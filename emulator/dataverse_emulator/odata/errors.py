"""The one exception the OData query engine raises; handlers turn it into Dataverse's error body."""

from __future__ import annotations

from ..http import Response, dataverse_error

# Dataverse reports every OData URI parse/bind failure (bad $filter, unknown property in $select,
# unknown entity set) with this code. [PA-FILTER][OBS-prop]
QUERY_ERROR_CODE = "0x80060888"


class ODataError(Exception):
    """A client error in a query option: ``status`` + Dataverse ``code`` + exact ``message``."""

    def __init__(self, message: str, *, status: int = 400, code: str = QUERY_ERROR_CODE) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message

    def to_response(self) -> Response:
        return dataverse_error(self.status, self.code, self.message)


def unknown_property(name: str, entity: str) -> ODataError:
    """The 400 Dataverse returns for a name that is not a property of the entity type. [OBS-prop]"""
    return ODataError(f"Could not find a property named '{name}' on type 'Microsoft.Dynamics.CRM.{entity}'.")

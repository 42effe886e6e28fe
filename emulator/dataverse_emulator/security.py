"""Dataverse-side authentication and authorization: bearer tokens, application users, roles, field security.

Behaviour follows ../shared/reference/dataverse-web-api.md §2.2-2.3:
- a missing or invalid token is a 401 carrying ``WWW-Authenticate: Bearer authorization_uri=…, resource_id=…``;
- a valid token whose app has no application user in the environment is a 403 ``0x80072560``;
- a missing privilege is a 403 ``0x80040220`` naming ``prv<Action><logicalname>``;
- secured columns the caller's field-security profiles do not grant come back as null.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass, field

from dataverse_emulator.clock import Clock
from dataverse_emulator.config import EmulatorConfig, stable_uuid
from dataverse_emulator.entra import Entra
from dataverse_emulator.http import Request, Response, dataverse_error
from dataverse_emulator.tokens import TokenRejected, normalize_resource, resource_aliases

DEFAULT_ROLE = "HR Integration Reader"
DEFAULT_FIELD_PROFILE = "HR Integration Secured Columns"

# Privilege depths, shallow to deep ("parentchildbusinessunits" is Dataverse's "Deep").
DEPTHS = ("user", "businessunit", "parentchildbusinessunits", "organization")
# The same depths as the Web API's PrivilegeDepth enum members (RolePrivilege.Depth).
PRIVILEGE_DEPTHS = ("Basic", "Local", "Deep", "Global")
# Action -> the verb in Dataverse privilege names (prvRead<entity>, prvAppendTo<entity>, …).
ACTIONS = {
    "read": "Read",
    "create": "Create",
    "write": "Write",
    "delete": "Delete",
    "append": "Append",
    "appendto": "AppendTo",
}
NOT_A_MEMBER = "0x80072560"
PRIVILEGE_DENIED = "0x80040220"
# UNCONFIRMED: body of a 401 for an expired token. Dataverse's error table lists ExpiredOAuthToken
# 0x80041d52 "The OAuth token has expired"; the emulator sends it for expired tokens only (setting
# ``expired_token_body``: "error" = that body, the default; "empty" = none) and an empty body for
# every other 401 (the reference notes real 401 bodies are often empty).
EXPIRED_TOKEN = "0x80041d52"


@dataclass(frozen=True)
class Principal:
    """The caller of a Dataverse request (hashable: service protection counts per principal)."""

    app_id: str
    user_id: str  # the application user's systemuserid (WhoAmI UserId)
    business_unit_id: str
    organization_id: str
    tenant_id: str


@dataclass
class Role:
    name: str
    role_id: str
    privileges: dict[str, dict[str, str]]  # table -> action -> depth


@dataclass
class FieldProfile:
    name: str
    columns: set[tuple[str, str]]
    all_secured: bool = False  # grants every secured column, including ones secured later


@dataclass
class ApplicationUser:
    app_id: str
    user_id: str
    roles: list[str] = field(default_factory=list)
    field_profiles: list[str] = field(default_factory=list)


def privilege_name(action: str, table_logical_name: str) -> str:
    """``prv<Action><table>``. Dataverse builds it from the table's SchemaName, which the emulator
    keeps equal to its logical name (EntityDefinitions says so), so clients can match them."""
    return f"prv{ACTIONS[action]}{table_logical_name}"


class Security:
    def __init__(self, entra: Entra, config: EmulatorConfig, clock: Clock, environment_url: str = "") -> None:
        self.entra = entra
        self.config = config
        self.clock = clock
        self.environment_url = normalize_resource(environment_url) if environment_url else ""
        self.organization_id = stable_uuid(config.seed, "organization")
        self.business_unit_id = stable_uuid(config.seed, "root-business-unit")
        self._users: dict[str, ApplicationUser] = {}
        self._roles: dict[str, Role] = {}
        self._profiles: dict[str, FieldProfile] = {}
        self._secured: set[tuple[str, str]] = set()
        self._lock = threading.RLock()

    @classmethod
    def with_defaults(
        cls,
        entra: Entra,
        config: EmulatorConfig,
        clock: Clock,
        environment_url: str,
        table_names: list[str],
        urs_tables: list[str],
    ) -> Security:
        """The default app as an application user with org-level read everywhere readable, writes on URS tables.

        Append/AppendTo are granted alongside so ``@odata.bind`` from URS rows to HR rows is allowed.
        """
        security = cls(entra, config, clock, environment_url)
        privileges: dict[str, dict[str, str]] = {}
        for table in table_names:
            if table not in config.unreadable_tables:
                privileges[table] = {"read": "organization", "appendto": "organization"}
        for table in urs_tables:
            privileges.setdefault(table, {}).update(
                {a: "organization" for a in ("read", "create", "write", "delete", "append", "appendto")}
            )
        for name in config.withheld_privileges:  # a tenant whose role lacks these (tenant.py)
            for table, grants in privileges.items():
                for action in [a for a in grants if privilege_name(a, table) == name]:
                    del grants[action]
        security.define_role(DEFAULT_ROLE, privileges)
        security.define_field_profile(DEFAULT_FIELD_PROFILE, set(), all_secured=True)
        security.add_application_user(config.client_id, roles=[DEFAULT_ROLE], field_profiles=[DEFAULT_FIELD_PROFILE])
        return security

    # ----------------------------------------------------------------- administration

    def add_application_user(self, app_id: str, *, roles: list[str], field_profiles: Iterable[str] = ()) -> str:
        """Create (or replace) the application user for ``app_id``; returns its systemuserid."""
        with self._lock:
            self._require_roles(roles)
            self._require_profiles(field_profiles)
            key = app_id.lower()
            user = ApplicationUser(
                app_id=key,
                user_id=stable_uuid(self.config.seed, f"systemuser:{key}"),
                roles=list(roles),
                field_profiles=list(field_profiles),
            )
            self._users[key] = user
            return user.user_id

    def remove_application_user(self, app_id: str) -> None:
        with self._lock:
            self._user_or_raise(app_id)
            del self._users[app_id.lower()]

    def define_role(self, name: str, privileges: dict[str, dict[str, str]]) -> None:
        """Define (or redefine) a security role: table -> {action: depth}."""
        for table, grants in privileges.items():
            for action, depth in grants.items():
                if action not in ACTIONS:
                    raise ValueError(f"role {name!r}: unknown action {action!r} on {table} (one of {sorted(ACTIONS)})")
                if depth not in DEPTHS:
                    raise ValueError(f"role {name!r}: unknown depth {depth!r} on {table} (one of {list(DEPTHS)})")
        with self._lock:
            self._roles[name] = Role(
                name=name,
                role_id=stable_uuid(self.config.seed, f"role:{name}"),
                privileges={t: dict(g) for t, g in privileges.items()},
            )

    def set_roles(self, app_id: str, roles: list[str]) -> None:
        with self._lock:
            self._require_roles(roles)
            self._user_or_raise(app_id).roles = list(roles)

    def define_field_profile(self, name: str, columns: set[tuple[str, str]], *, all_secured: bool = False) -> None:
        """A field-security profile granting read on ``columns`` ((table, column) pairs)."""
        with self._lock:
            self._profiles[name] = FieldProfile(name=name, columns=set(columns), all_secured=all_secured)

    def set_field_profiles(self, app_id: str, names: Iterable[str]) -> None:
        with self._lock:
            self._require_profiles(names)
            self._user_or_raise(app_id).field_profiles = list(names)

    def secure_column(self, table: str, column: str) -> None:
        """Mark a column field-secured (readable only through a profile that grants it)."""
        with self._lock:
            self._secured.add((table, column))

    def application_user(self, app_id: str) -> ApplicationUser | None:
        with self._lock:
            return self._users.get(app_id.lower())

    def _user_or_raise(self, app_id: str) -> ApplicationUser:
        user = self.application_user(app_id)
        if user is None:
            raise ValueError(f"no application user for app {app_id}")
        return user

    def _require_roles(self, roles: Iterable[str]) -> None:
        unknown = [r for r in roles if r not in self._roles]
        if unknown:
            raise ValueError(f"unknown security role(s): {', '.join(unknown)}")

    def _require_profiles(self, names: Iterable[str]) -> None:
        unknown = [n for n in names if n not in self._profiles]
        if unknown:
            raise ValueError(f"unknown field security profile(s): {', '.join(unknown)}")

    # ----------------------------------------------------------------- authentication

    def authenticate(self, req: Request) -> Principal | Response:
        """The caller of ``req``, or the 401/403 Dataverse would answer with."""
        scheme, _, token = (req.headers.get("Authorization") or "").strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            return self._unauthorized(req, None)
        try:
            claims = self.entra.verify_access_token(token, audience_candidates=sorted(self._audiences(req)))
        except TokenRejected as rejected:
            return self._unauthorized(req, rejected.reason)
        # Only tokens issued by the environment's own tenant are accepted.
        if str(claims["tid"]).lower() != self.config.tenant_id.lower():
            return self._unauthorized(req, "unknown_tenant")
        app_id = str(claims.get("appid") or claims.get("azp") or "")
        user = self.application_user(app_id)
        if user is None:
            return dataverse_error(403, NOT_A_MEMBER, "The user is not a member of the organization.")
        return Principal(
            app_id=user.app_id,
            user_id=user.user_id,
            business_unit_id=self.business_unit_id,
            organization_id=self.organization_id,
            tenant_id=self.config.tenant_id,
        )

    def _environment(self, req: Request) -> str:
        return self.environment_url or normalize_resource(req.scheme_host)

    def _audiences(self, req: Request) -> set[str]:
        return resource_aliases(self._environment(req))

    def _unauthorized(self, req: Request, reason: str | None) -> Response:
        challenge = (
            f"Bearer authorization_uri={req.scheme_host}/{self.config.tenant_id}/oauth2/authorize, "
            f"resource_id={self._environment(req)}/"
        )
        if reason == "expired" and self.config.expired_token_body == "error":
            return dataverse_error(
                401, EXPIRED_TOKEN, "The OAuth token has expired", {"WWW-Authenticate": challenge}
            )
        return Response.empty(401, {"WWW-Authenticate": challenge})

    # ----------------------------------------------------------------- authorization

    def check_privilege(
        self,
        principal: Principal,
        table_logical_name: str,
        action: str,
        *,
        object_type_code: int,
        organization_level: bool = False,
    ) -> Response | None:
        """None when allowed, else Dataverse's 403 ``0x80040220`` naming the missing privilege.

        ``organization_level`` demands Organization depth (change tracking needs it). UNCONFIRMED:
        the message for a privilege held at too shallow a depth; the missing-privilege text is reused.
        """
        if action not in ACTIONS:
            raise ValueError(f"unknown action {action!r} (one of {sorted(ACTIONS)})")
        with self._lock:
            user = self._users.get(principal.app_id)
            roles = [self._roles[r] for r in user.roles if r in self._roles] if user else []
            depths = [r.privileges.get(table_logical_name, {}).get(action) for r in roles]
            held = [DEPTHS.index(d) for d in depths if d]
            privilege_count = len({(t, a) for r in roles for t, grants in r.privileges.items() for a in grants})
        needed = DEPTHS.index("organization") if organization_level else 0
        if held and max(held) >= needed:
            return None
        privilege = privilege_name(action, table_logical_name)
        privilege_id = self.privilege_id(privilege)
        message = (
            f"Principal user (Id={principal.user_id}, type=8, roleCount={len(roles)}, "
            f"privilegeCount={privilege_count}, accessMode=0), is missing {privilege} privilege "
            f"(Id={privilege_id}) on OTC={object_type_code} for entity '{table_logical_name}'. "
            f"context.Caller={principal.user_id}"
        )
        return dataverse_error(403, PRIVILEGE_DENIED, message)

    def privilege_id(self, name: str) -> str:
        return stable_uuid(self.config.seed, f"privilege:{name}")

    def user_by_id(self, user_id: str) -> ApplicationUser | None:
        with self._lock:
            return next((u for u in self._users.values() if u.user_id == user_id.lower()), None)

    def held_privileges(self, user: ApplicationUser, names: Iterable[str]) -> list[dict[str, str | None]]:
        """``RolePrivilege`` entries for those of ``names`` the user holds through its roles, each at
        its deepest depth (Basic/Local/Deep/Global, the PrivilegeDepth enum's member names)."""
        wanted = set(names)
        with self._lock:
            deepest: dict[str, int] = {}
            for role in (self._roles[r] for r in user.roles if r in self._roles):
                for table, grants in role.privileges.items():
                    for action, depth in grants.items():
                        name = privilege_name(action, table)
                        if name in wanted:
                            deepest[name] = max(deepest.get(name, -1), DEPTHS.index(depth))
        return [{"Depth": PRIVILEGE_DEPTHS[depth], "PrivilegeId": self.privilege_id(name),
                 "BusinessUnitId": self.business_unit_id, "PrivilegeName": name, "RecordFilterId": None,
                 "RecordFilterUniqueName": None} for name, depth in sorted(deepest.items())]

    def hidden_columns(self, principal: Principal, table_logical_name: str) -> set[str]:
        """Secured columns of the table this principal's field-security profiles do not grant."""
        with self._lock:
            secured = {(t, c) for t, c in self._secured if t == table_logical_name}
            if not secured:
                return set()
            user = self._users.get(principal.app_id)
            profiles = [self._profiles[p] for p in user.field_profiles if p in self._profiles] if user else []
            if any(p.all_secured for p in profiles):
                return set()
            granted = set().union(*(p.columns for p in profiles)) if profiles else set()
            return {c for t, c in secured - granted}

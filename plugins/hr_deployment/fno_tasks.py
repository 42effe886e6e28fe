"""Load task body for catalog entries read from finance and operations OData (``fno_entity``).

The F&O environment URL is the Dataverse connection's extra ``fno_url``: the same app registration
(tenant, client id, secret or certificate) signs in to both, only the token audience differs, so one
connection keeps one secret in one place. (A separate connection type would duplicate the
credentials; a different app registration is not needed, and a second Dataverse connection can
carry another ``fno_url`` if one is.) Optional ``fno_cross_company`` (default true).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dataverse_provider.hooks.dataverse import DataverseHook
    from hr_dataverse.catalog import TableSpec
    from hr_dataverse.sync import TableSyncResult
    from hr_dataverse.warehouse import Warehouse

FNO_URL_EXTRA = "fno_url"


def fno_settings(hook: DataverseHook) -> Any:
    """``FnoSettings`` from the connection extras; ``ConfigError`` naming the extra when it is missing."""
    from hr_dataverse.dataverse import ConfigError
    from hr_dataverse.fno import FnoSettings

    extra = hook.get_connection(hook.dataverse_conn_id).extra_dejson
    url = str(extra.get(FNO_URL_EXTRA) or "").strip()
    if not url:
        raise ConfigError(FNO_URL_EXTRA, f"connection '{hook.dataverse_conn_id}' has no extra '{FNO_URL_EXTRA}': set it "
                                         "to the F&O environment URL (https://<env>.operations.dynamics.com) to read "
                                         "F&O data entities")
    cross = extra.get("fno_cross_company", True)
    return FnoSettings(url, cross_company=str(cross).lower() not in ("false", "0", "no"))


def sync_fno(hook: DataverseHook, warehouse: Warehouse, spec: TableSpec, run_id: str,
             guard: Any = None) -> TableSyncResult:
    """Full reload of one F&O entity; problems a retry cannot fix become ``SyncError`` (no retry)."""
    from airflow.sdk.log import mask_secret

    from hr_dataverse.checks import is_transient
    from hr_dataverse.dataverse import AuthError
    from hr_dataverse.fno import FnoClient, FnoError, sync_fno_entity
    from hr_dataverse.sync import SyncError

    identity, settings = hook.get_conn().settings, fno_settings(hook)
    try:
        with FnoClient(identity, settings, on_new_token=mask_secret) as client:
            return sync_fno_entity(client, warehouse, spec, run_id=run_id, guard=guard)
    except FnoError as exc:
        if is_transient(exc):
            raise
        raise SyncError(spec.name, exc.message) from None
    except AuthError as exc:  # the token audience is fno_url: a wrong URL fails at Entra (AADSTS500011)
        raise SyncError(spec.name, f"Entra ID issued no token for {settings.root}: {exc.message}. Check the "
                                   f"connection extra {FNO_URL_EXTRA} (the F&O environment root)") from None

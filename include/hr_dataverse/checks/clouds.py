"""Microsoft clouds as the token check needs them: which Entra login hosts belong to which cloud, the
issuers its tokens carry, and the Dataverse domains of its environments.

Token issuers (Microsoft Q&A "token issuers for the sovereign clouds", and the national-cloud
authentication endpoints page): v1.0 access tokens — what Dataverse receives — are issued by
``https://sts.windows.net/{tid}/`` in the public **and** the US Government cloud, and by
``https://sts.chinacloudapi.cn/{tid}/`` in the China cloud (21Vianet); v2.0 tokens by
``https://<login host>/{tid}/v2.0``. The US Government login host is ``login.microsoftonline.us``
(GCC High and DoD; GCC "moderate" runs in the public cloud); China's is
``login.partner.microsoftonline.cn`` (``login.chinacloudapi.cn`` is the older name).

A login host not in the table (a proxy, the local emulator) is placed by the ``cloud_instance_name``
of its OpenID discovery document, which Entra publishes for each cloud; else it counts as public.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Cloud:
    name: str
    label: str
    login_hosts: tuple[str, ...]  # Entra authority hosts; the first is the current one
    sts_host: str  # host of v1.0 token issuers
    instance_name: str  # cloud_instance_name in OpenID discovery
    dataverse_domains: tuple[str, ...]  # environment URL host suffixes (UNCONFIRMED for DoD: a setting-free guess)

    def issuers(self, tenant_id: str, authority_host: str) -> list[str]:
        """The ``iss`` values this cloud's tokens for ``tenant_id`` can carry."""
        v2_hosts = dict.fromkeys([authority_host.lower(), *self.login_hosts])
        return [f"https://{self.sts_host}/{tenant_id}/", *(f"https://{h}/{tenant_id}/v2.0" for h in v2_hosts)]


PUBLIC = Cloud("public", "public cloud", ("login.microsoftonline.com",), "sts.windows.net", "microsoftonline.com",
               (".dynamics.com",))
US_GOVERNMENT = Cloud("usgov", "US Government cloud (GCC High / DoD)", ("login.microsoftonline.us",),
                      "sts.windows.net", "microsoftonline.us", (".microsoftdynamics.us", ".appsplatform.us"))
CHINA = Cloud("china", "China cloud (21Vianet)", ("login.partner.microsoftonline.cn", "login.chinacloudapi.cn"),
              "sts.chinacloudapi.cn", "partner.microsoftonline.cn", (".dynamics.cn",))
CLOUDS = (PUBLIC, US_GOVERNMENT, CHINA)
_INSTANCE_NAMES = {c.instance_name: c for c in CLOUDS} | {"chinacloudapi.cn": CHINA}


def cloud_of(authority_host: str, discovery: dict[str, Any] | None = None) -> Cloud:
    """The cloud of an Entra login host (``host[:port]``), by name, else by its discovery document."""
    host = authority_host.lower().rsplit(":", 1)[0] if authority_host.count(":") == 1 else authority_host.lower()
    for cloud in CLOUDS:
        if host in cloud.login_hosts:
            return cloud
    instance = str((discovery or {}).get("cloud_instance_name") or "").lower()
    return _INSTANCE_NAMES.get(instance, PUBLIC)


def cloud_of_environment(environment_url_host: str) -> Cloud | None:
    """The cloud of a Dataverse environment host, or None when the domain is not a known one."""
    host = environment_url_host.lower()
    for cloud in CLOUDS:
        if any(host.endswith(domain) for domain in cloud.dataverse_domains):
            return cloud
    return None

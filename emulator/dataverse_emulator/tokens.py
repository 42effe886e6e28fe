"""Access tokens the emulated Entra ID issues and the emulated Dataverse verifies.

Tokens are v1-style app-only JWTs (what Dataverse receives for client credentials), RS256-signed
with one RSA key per emulator, published in the JWKS with a self-signed certificate as real Entra does.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from dataverse_emulator.certs import self_signed
from dataverse_emulator.clock import Clock

# Hosts that name the same loopback emulator; a token for one is valid for the other.
_LOOPBACK = ("127.0.0.1", "localhost")


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def cert_thumbprints(cert: x509.Certificate) -> tuple[str, str]:
    """(x5t, x5t#S256): base64url SHA-1 and SHA-256 of the DER certificate (RFC 7515 §4.1.7-8)."""
    der = cert.public_bytes(serialization.Encoding.DER)
    return b64url(hashlib.sha1(der).digest()), b64url(hashlib.sha256(der).digest())


def normalize_resource(url: str) -> str:
    """Canonical form of a resource identifier: lower-case scheme/host, no default port, no trailing '/'."""
    url = url.strip()
    parts = urlsplit(url)
    if not parts.scheme or not parts.hostname:
        return url.rstrip("/").lower()
    host = parts.hostname.lower()
    port = parts.port
    default = {"https": 443, "http": 80}.get(parts.scheme.lower())
    netloc = host if port in (None, default) else f"{host}:{port}"
    return f"{parts.scheme.lower()}://{netloc}{parts.path.rstrip('/')}"


def resource_aliases(url: str) -> set[str]:
    """Every normalized form an environment is known by.

    Dataverse answers on both ``{org}.crm.dynamics.com`` and ``{org}.api.crm.dynamics.com``; the
    emulator answers on both ``127.0.0.1`` and ``localhost`` (same port).
    """
    canonical = normalize_resource(url)
    parts = urlsplit(canonical)
    if not parts.hostname:
        return {canonical}
    host = parts.hostname
    hosts = {host}
    if host in _LOOPBACK:
        hosts = set(_LOOPBACK)
    elif host.endswith(".dynamics.com"):
        org, _, rest = host.partition(".")
        hosts.add(f"{org}.{rest[4:]}" if rest.startswith("api.") else f"{org}.api.{rest}")
    port = f":{parts.port}" if parts.port else ""
    return {f"{parts.scheme}://{h}{port}{parts.path}" for h in hosts}


class TokenRejected(Exception):
    """An access token Dataverse would refuse. ``reason`` is one of ``REASONS``."""

    REASONS = ("malformed", "bad_signature", "expired", "not_yet_valid", "wrong_audience", "unknown_tenant")

    def __init__(self, reason: str, detail: str = "") -> None:
        if reason not in self.REASONS:
            raise ValueError(f"unknown rejection reason {reason!r}")
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class SigningKey:
    """The emulator's token-signing key and the self-signed certificate published for it."""

    private_key: rsa.RSAPrivateKey
    certificate: x509.Certificate
    kid: str  # Entra uses the SHA-1 thumbprint as both kid and x5t

    @classmethod
    def generate(cls, now: datetime) -> SigningKey:
        key, cert = self_signed("accounts.accesscontrol.windows.net", valid_for=timedelta(days=5 * 365), now=now)
        return cls(private_key=key, certificate=cert, kid=cert_thumbprints(cert)[0])

    def jwk(self, issuer: str) -> dict[str, Any]:
        numbers = self.private_key.public_key().public_numbers()
        der = self.certificate.public_bytes(serialization.Encoding.DER)
        return {
            "kty": "RSA",
            "use": "sig",
            "kid": self.kid,
            "x5t": self.kid,
            "n": b64url(numbers.n.to_bytes((numbers.n.bit_length() + 7) // 8, "big")),
            "e": b64url(numbers.e.to_bytes((numbers.e.bit_length() + 7) // 8, "big")),
            "x5c": [base64.b64encode(der).decode("ascii")],
            "issuer": issuer,
        }


class TokenService:
    """Issues and verifies app-only access tokens against the emulator clock.

    ``leeway_seconds`` is the clock-skew allowance when verifying (real validators allow about
    5 minutes; the default 0 lets tests expire a token exactly at ``exp``).
    """

    def __init__(
        self,
        clock: Clock,
        *,
        lifetime_seconds: int,
        issuer_template: str,
        leeway_seconds: float = 0.0,
    ) -> None:
        self.clock = clock
        self.lifetime_seconds = lifetime_seconds
        self.issuer_template = issuer_template
        self.leeway_seconds = leeway_seconds
        self.key = SigningKey.generate(clock.now())

    def issuer(self, tenant_id: str) -> str:
        return self.issuer_template.format(tenant_id=tenant_id)

    def issue(
        self,
        *,
        tenant_id: str,
        resource: str,
        client_id: str,
        service_principal_id: str,
        appidacr: str,
        roles: Sequence[str] = (),
    ) -> tuple[str, int]:
        """Return (token, expires_in). ``appidacr`` is "1" for a secret, "2" for a certificate."""
        now = int(self.clock.timestamp())
        issuer = self.issuer(tenant_id)
        claims: dict[str, Any] = {
            "aud": resource.rstrip("/"),
            "iss": issuer,
            "iat": now,
            "nbf": now,
            "exp": now + self.lifetime_seconds,
            "aio": b64url(secrets.token_bytes(48)),
            "appid": client_id,
            "appidacr": appidacr,
            "idp": issuer,
            "idtyp": "app",
            "oid": service_principal_id,
            "rh": f"0.{b64url(secrets.token_bytes(36))}.",
            "sub": service_principal_id,
            "tid": tenant_id,
            "uti": b64url(secrets.token_bytes(16)),
            "ver": "1.0",
        }
        if roles:
            claims["roles"] = list(roles)
        headers = {"typ": "JWT", "kid": self.key.kid, "x5t": self.key.kid}
        token = jwt.encode(claims, self.key.private_key, algorithm="RS256", headers=headers)
        return token, self.lifetime_seconds

    def verify(
        self,
        token: str,
        *,
        audience_candidates: Collection[str],
        tenant_known: Callable[[str], bool],
    ) -> dict[str, Any]:
        """Claims of a token this emulator issued, or ``TokenRejected``."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.DecodeError as exc:
            raise TokenRejected("malformed", str(exc)) from exc
        if header.get("kid") not in (None, self.key.kid):
            raise TokenRejected("bad_signature", "signing key not found")
        try:
            claims = jwt.decode(
                token,
                self.key.private_key.public_key(),
                algorithms=["RS256"],
                options={"verify_aud": False, "verify_exp": False, "verify_nbf": False, "verify_iat": False},
            )
        except (jwt.InvalidSignatureError, jwt.InvalidAlgorithmError) as exc:
            raise TokenRejected("bad_signature", str(exc)) from exc
        except jwt.PyJWTError as exc:
            raise TokenRejected("malformed", str(exc)) from exc
        tid, exp, nbf, aud = claims.get("tid"), claims.get("exp"), claims.get("nbf"), claims.get("aud")
        if not isinstance(tid, str) or not isinstance(exp, int | float) or not isinstance(aud, str):
            raise TokenRejected("malformed", "tid, exp and aud claims are required")
        if not tenant_known(tid):
            raise TokenRejected("unknown_tenant", tid)
        if claims.get("iss") != self.issuer(tid):
            raise TokenRejected("malformed", f"issuer {claims.get('iss')!r} does not belong to tenant {tid}")
        now = self.clock.timestamp()
        if exp + self.leeway_seconds <= now:
            raise TokenRejected("expired", f"expired at {datetime.fromtimestamp(exp, UTC).isoformat()}")
        if isinstance(nbf, int | float) and nbf - self.leeway_seconds > now:
            raise TokenRejected("not_yet_valid", f"valid from {datetime.fromtimestamp(nbf, UTC).isoformat()}")
        accepted = {normalize_resource(a) for a in audience_candidates}
        if normalize_resource(aud) not in accepted:
            raise TokenRejected("wrong_audience", aud)
        return claims

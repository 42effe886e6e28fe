"""Certificates the emulator and its tests make: the signing key of the token issuer, the local CA
and server certificate (``tls.py``), and self-signed client certificates."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPublicKeyTypes
from cryptography.x509.oid import NameOID


def certificate(subject: str, public_key: CertificateIssuerPublicKeyTypes, *, valid_for: timedelta,
                issuer: str | None = None, now: datetime | None = None,
                backdated: timedelta = timedelta(days=1)) -> x509.CertificateBuilder:
    """A builder for ``subject``'s certificate (self-issued unless ``issuer``), valid from ``backdated``
    before ``now`` for ``valid_for``; add extensions, then sign."""
    now = now or datetime.now(UTC)
    return (x509.CertificateBuilder().subject_name(_name(subject)).issuer_name(_name(issuer or subject))
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - backdated).not_valid_after(now + valid_for))


def self_signed(subject: str, *, valid_for: timedelta, now: datetime | None = None,
                backdated: timedelta = timedelta(days=1)) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    """A new RSA-2048 key and its self-signed SHA-256 certificate."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    builder = certificate(subject, key.public_key(), valid_for=valid_for, now=now, backdated=backdated)
    return key, builder.sign(key, hashes.SHA256())


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def key_pem(key: rsa.RSAPrivateKey) -> bytes:
    """The private key as unencrypted PKCS#8 PEM."""
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)

"""A local certificate authority and a loopback server certificate.

MSAL and Microsoft's Dataverse SDK refuse plain http, so the emulator serves TLS with a CA it
creates itself; clients trust it through the reported ``ca_bundle`` path.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from .certs import certificate

_HOSTS = ("localhost",)
_IPS = ("127.0.0.1", "::1")


@dataclass(frozen=True)
class TlsFiles:
    ca_bundle: Path
    cert: Path
    key: Path


def ensure_certificates(state_dir: Path, extra_hosts: tuple[str, ...] = ()) -> TlsFiles:
    """Create (once) a CA and a server certificate for localhost/127.0.0.1 (and ``extra_hosts``, e.g. the
    emulator's service name in docker-compose) under ``state_dir``."""
    state_dir.mkdir(parents=True, exist_ok=True)
    files = TlsFiles(state_dir / "ca.pem", state_dir / "server.pem", state_dir / "server.key")
    if (all(p.exists() for p in (files.ca_bundle, files.cert, files.key)) and _still_valid(files.cert)
            and _covers(files.cert, extra_hosts)):
        return files
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = "hr-dataverse emulator local CA"
    ca_cert = (
        certificate(ca_name, ca_key.public_key(), valid_for=dt.timedelta(days=3650), now=now)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
                key_encipherment=False, data_encipherment=False, key_agreement=False,
                encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    san = x509.SubjectAlternativeName(
        [x509.DNSName(h) for h in dict.fromkeys((*_HOSTS, *extra_hosts))] + [x509.IPAddress(ipaddress.ip_address(i)) for i in _IPS]
    )
    cert = (
        certificate("localhost", key.public_key(), issuer=ca_name, valid_for=dt.timedelta(days=825), now=now)
        .add_extension(san, critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    files.key.write_bytes(
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    files.key.chmod(0o600)
    files.cert.write_bytes(cert.public_bytes(pem) + ca_cert.public_bytes(pem))
    files.ca_bundle.write_bytes(ca_cert.public_bytes(pem))
    return files


def _covers(cert_file: Path, hosts: tuple[str, ...]) -> bool:
    """The certificate names every host in ``hosts``."""
    if not hosts:
        return True
    cert = x509.load_pem_x509_certificate(cert_file.read_bytes())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName)
    return set(hosts) <= set(names)


def _still_valid(cert_path: Path) -> bool:
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    except ValueError:
        return False
    return cert.not_valid_after_utc > dt.datetime.now(dt.UTC) + dt.timedelta(days=1)


def server_context(files: TlsFiles) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(files.cert, files.key)
    return ctx

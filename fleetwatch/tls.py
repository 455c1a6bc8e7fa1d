"""A self-signed certificate for a quick HTTPS start (``fleetwatch serve --self-signed``).

Made once in ``<data dir>/tls/`` (an ECDSA P-256 key readable by its owner only, a certificate
for localhost, the loopback addresses, this host's name and the bind address) and reused while
it is valid for at least another 30 days. Clients pass ``-k``/``--insecure``, or trust the file.
"""

from __future__ import annotations

import datetime
import ipaddress
import logging
import os
import socket
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["self_signed"]

log = logging.getLogger(__name__)

VALID_DAYS = 825
RENEW_DAYS = 30
WILDCARDS = {"0.0.0.0", "::", ""}  # noqa: S104 - names to leave out, not to bind


def self_signed(data_dir: Path, bind: str = "127.0.0.1") -> tuple[Path, Path]:
    """The (certificate, key) PEM files in ``data_dir/tls``, made when missing or expiring."""
    folder = data_dir / "tls"
    certfile, keyfile = folder / "cert.pem", folder / "key.pem"
    if _still_good(certfile) and keyfile.is_file():
        return certfile, keyfile
    folder.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    cert = _certificate(key, _names(bind))
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    fd = os.open(keyfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(key_pem)
    certfile.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    log.info("made a self-signed certificate %s (SHA-256 %s)", certfile,
             cert.fingerprint(hashes.SHA256()).hex(":"))  # fmt: skip
    return certfile, keyfile


def _still_good(certfile: Path) -> bool:
    try:
        cert = x509.load_pem_x509_certificate(certfile.read_bytes())
    except (OSError, ValueError):
        return False
    remaining = cert.not_valid_after_utc - datetime.datetime.now(datetime.UTC)
    return remaining > datetime.timedelta(days=RENEW_DAYS)


def _names(bind: str) -> list[x509.GeneralName]:
    dns = {"localhost", socket.gethostname()}
    ips = {"127.0.0.1", "::1"}
    bare = bind.strip("[]")
    if bare not in WILDCARDS:
        try:
            ipaddress.ip_address(bare)
            ips.add(bare)
        except ValueError:
            dns.add(bare)
    names: list[x509.GeneralName] = [x509.DNSName(name) for name in sorted(dns) if name]
    names += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in sorted(ips)]
    return names


def _certificate(
    key: ec.EllipticCurvePrivateKey, names: list[x509.GeneralName]
) -> x509.Certificate:
    subject = x509.Name([
        x509.NameAttribute(NameOID.COMMON_NAME, "fleetwatch self-signed"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, socket.gethostname() or "fleetwatch"),
    ])  # fmt: skip
    now = datetime.datetime.now(datetime.UTC)
    public = key.public_key()
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=VALID_DAYS))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )

"""TLS and mutual TLS, with a throwaway CA made at test time (the ``cryptography`` package)."""

from __future__ import annotations

import datetime
import ipaddress
from pathlib import Path

import attrs
import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from kcore.errors import InvalidArgumentError
from kcore.store import MemoryStore
from kcore.store._etcdpb import rpc_pb2 as pb
from kcore.store.server import EtcdServer

from .conftest import Client, etcdctl

pytestmark = pytest.mark.anyio


@attrs.frozen
class Pki:
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    other_ca_client_cert: Path
    other_ca_client_key: Path

    def credentials(self, *, client_cert: bool = True, other_ca: bool = False) -> object:
        cert, key = (
            (self.other_ca_client_cert, self.other_ca_client_key)
            if other_ca
            else (self.client_cert, self.client_key)
        )
        return grpc.ssl_channel_credentials(
            root_certificates=self.ca.read_bytes(),
            private_key=key.read_bytes() if client_cert else None,
            certificate_chain=cert.read_bytes() if client_cert else None,
        )


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


def _ca(common_name: str) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(_name(common_name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    return cert, key


def _leaf(
    ca: tuple[x509.Certificate, ec.EllipticCurvePrivateKey], common_name: str, *, server: bool
) -> tuple[bytes, ec.EllipticCurvePrivateKey]:
    ca_cert, ca_key = ca
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
    )
    if server:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
    cert = builder.sign(ca_key, hashes.SHA256())
    return cert.public_bytes(serialization.Encoding.PEM), key


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    d = tmp_path_factory.mktemp("pki")
    ca = _ca("kcore test CA")
    other = _ca("some other CA")
    (d / "ca.pem").write_bytes(ca[0].public_bytes(serialization.Encoding.PEM))
    files: dict[str, Path] = {}
    for name, issuer, is_server in (
        ("server", ca, True),
        ("client", ca, False),
        ("other", other, False),
    ):
        cert, key = _leaf(issuer, f"kcore-{name}", server=is_server)
        (d / f"{name}.pem").write_bytes(cert)
        _write_key(d / f"{name}-key.pem", key)
        files[name] = d / f"{name}.pem"
        files[name + "-key"] = d / f"{name}-key.pem"
    return Pki(
        d / "ca.pem",
        files["server"],
        files["server-key"],
        files["client"],
        files["client-key"],
        files["other"],
        files["other-key"],
    )


async def _fails(client: Client) -> grpc.StatusCode:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await client.calls["Range"](pb.RangeRequest(key=b"k"), timeout=2)
    await client.close()
    code: grpc.StatusCode = caught.value.code()
    return code


async def test_mutual_tls(pki: Pki) -> None:
    async with EtcdServer(
        MemoryStore(),
        "127.0.0.1:0",
        cert_file=pki.server_cert,
        key_file=pki.server_key,
        ca_file=pki.ca,
    ) as server:
        assert server.tls
        good = Client(server.address, pki.credentials())
        try:
            assert (await good.put(b"k", b"v")).header.revision == 2
            assert (await good.get(b"k")).kvs[0].value == b"v"
        finally:
            await good.close()
        # No client certificate, one from another CA, or no TLS at all: refused.
        assert await _fails(Client(server.address, pki.credentials(client_cert=False))) == (
            grpc.StatusCode.UNAVAILABLE
        )
        assert await _fails(Client(server.address, pki.credentials(other_ca=True))) == (
            grpc.StatusCode.UNAVAILABLE
        )
        assert await _fails(Client(server.address)) == grpc.StatusCode.UNAVAILABLE


async def test_server_only_tls(pki: Pki) -> None:
    async with EtcdServer(
        MemoryStore(), "127.0.0.1:0", cert_file=pki.server_cert, key_file=pki.server_key
    ) as server:
        client = Client(server.address, pki.credentials(client_cert=False))
        try:
            assert (await client.put(b"k")).header.revision == 2
        finally:
            await client.close()
        assert await _fails(Client(server.address)) == grpc.StatusCode.UNAVAILABLE


async def test_etcdctl_over_mutual_tls(pki: Pki) -> None:
    async with EtcdServer(
        MemoryStore(),
        "127.0.0.1:0",
        cert_file=pki.server_cert,
        key_file=pki.server_key,
        ca_file=pki.ca,
    ) as server:
        tls = [f"--cacert={pki.ca}", f"--cert={pki.client_cert}", f"--key={pki.client_key}"]
        assert await etcdctl(server.address, "put", "secure", "yes", tls=tls) == "OK\n"
        assert await etcdctl(server.address, "get", "secure", tls=tls) == "secure\nyes\n"


def test_tls_arguments_checked(pki: Pki) -> None:
    with pytest.raises(InvalidArgumentError, match="together"):
        EtcdServer(MemoryStore(), "127.0.0.1:0", cert_file=pki.server_cert)
    with pytest.raises(InvalidArgumentError, match="needs TLS"):
        EtcdServer(MemoryStore(), "127.0.0.1:0", ca_file=pki.ca)

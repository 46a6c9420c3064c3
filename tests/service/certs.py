"""Certificates the security tests make for themselves (trustme): a CA, a server
certificate for localhost and 127.0.0.1, a client certificate, and a client
certificate from a CA nobody trusts."""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path

import grpc
import trustme

from tts_common.tls import ClientTls


@dataclass(frozen=True)
class Certs:
    """PEM file paths."""

    ca: str
    server_cert: str
    server_key: str
    client_cert: str
    client_key: str
    rogue_cert: str
    """A client certificate signed by another CA."""
    rogue_key: str

    def client_tls(self, with_cert: bool = True) -> ClientTls:
        """Client settings trusting our CA, with our client certificate or none."""
        if not with_cert:
            return ClientTls(ca_file=self.ca)
        return ClientTls(self.ca, self.client_cert, self.client_key)

    def grpc_credentials(
        self, with_cert: bool = True, rogue: bool = False
    ) -> grpc.ChannelCredentials:
        """gRPC channel credentials trusting our CA."""
        cert, key = (self.rogue_cert, self.rogue_key) if rogue else (
            self.client_cert, self.client_key)  # fmt: skip
        return grpc.ssl_channel_credentials(
            root_certificates=Path(self.ca).read_bytes(),
            private_key=Path(key).read_bytes() if with_cert else None,
            certificate_chain=Path(cert).read_bytes() if with_cert else None,
        )

    def ssl_context(self, with_cert: bool = True) -> ssl.SSLContext:
        """A client ``ssl`` context trusting our CA (aiohttp, redis)."""
        context = ssl.create_default_context(cafile=self.ca)
        if with_cert:
            context.load_cert_chain(self.client_cert, self.client_key)
        return context


def make_certs(folder: Path) -> Certs:
    """Issue everything into ``folder``."""
    ca, rogue_ca = trustme.CA(), trustme.CA()
    files: dict[str, str] = {}

    def write(name: str, blob: trustme.Blob | list[trustme.Blob]) -> None:
        path = folder / f"{name}.pem"
        blobs = blob if isinstance(blob, list) else [blob]
        path.write_bytes(b"".join(b.bytes() for b in blobs))
        files[name] = str(path)

    write("ca", ca.cert_pem)
    server = ca.issue_cert("localhost", "127.0.0.1")
    write("server_cert", server.cert_chain_pems)
    write("server_key", server.private_key_pem)
    client = ca.issue_cert("gateway.client.test")
    write("client_cert", client.cert_chain_pems)
    write("client_key", client.private_key_pem)
    rogue = rogue_ca.issue_cert("rogue.client.test")
    write("rogue_cert", rogue.cert_chain_pems)
    write("rogue_key", rogue.private_key_pem)
    return Certs(**files)

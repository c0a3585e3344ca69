"""Real things in front of a test server: certificates made with the ``openssl`` CLI, and an nginx
(Debian package) that terminates TLS on loopback under a path prefix, run as our own process
(``-p``/``-c``, ``daemon off``, pid file in its temp folder) and stopped by its pid."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from tests.mlflow_server import free_port, stop_process


def nginx_binary() -> str | None:
    return shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if os.path.exists(p)), None)


@dataclass
class Certs:
    ca: Path
    server_cert: Path
    server_key: Path
    #: Client certificate and key in one PEM (what MLFLOW_TRACKING_CLIENT_CERT_PATH names).
    client_bundle: Path


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def make_certs(folder: Path) -> Certs:
    """A throw-away CA, a server certificate for 127.0.0.1 and a client certificate it signed."""
    folder.mkdir(parents=True, exist_ok=True)
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
             "-days", "2", "-subj", "/CN=steprun-test-ca",
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=folder)
    for name, usage, alt in (("server", "serverAuth", "subjectAltName=IP:127.0.0.1,DNS:localhost\n"),
                             ("client", "clientAuth", "")):
        (folder / f"{name}.ext").write_text(
            f"basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n"
            f"extendedKeyUsage={usage}\n{alt}", encoding="ascii")
        _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out",
                 f"{name}.csr", "-subj", f"/CN=steprun-test-{name}", cwd=folder)
        _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                 "-CAcreateserial", "-out", f"{name}.pem", "-days", "2", "-extfile", f"{name}.ext",
                 cwd=folder)
    bundle = folder / "client-bundle.pem"
    bundle.write_bytes((folder / "client.pem").read_bytes() + (folder / "client.key").read_bytes())
    return Certs(folder / "ca.pem", folder / "server.pem", folder / "server.key", bundle)


class Nginx:
    """nginx on 127.0.0.1: ``https://127.0.0.1:{port}{prefix}/`` proxies to ``upstream``; a second
    port (``mtls_port``) does the same but also requires a client certificate from the CA."""

    def __init__(self, folder: Path, upstream: str, certs: Certs, prefix: str = "/mlflow") -> None:
        self.folder = folder
        self.upstream = upstream.rstrip("/")
        self.certs = certs
        self.prefix = prefix
        self.port = free_port()
        self.mtls_port = free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}{self.prefix}"

    @property
    def mtls_url(self) -> str:
        return f"https://127.0.0.1:{self.mtls_port}{self.prefix}"

    def _server_block(self, port: int, mtls: bool) -> str:
        client = (f"ssl_client_certificate {self.certs.ca}; ssl_verify_client on;" if mtls else "")
        return f"""
    server {{
        listen 127.0.0.1:{port} ssl;
        ssl_certificate {self.certs.server_cert};
        ssl_certificate_key {self.certs.server_key};
        {client}
        location {self.prefix}/ {{
            proxy_pass {self.upstream}/;
            proxy_http_version 1.1;
            proxy_set_header Host $http_host;
            proxy_buffering off;
            proxy_request_buffering off;
        }}
    }}"""

    def start(self, timeout: float = 30.0) -> Nginx:
        f = self.folder
        f.mkdir(parents=True, exist_ok=True)
        temps = "\n".join(f"    {name}_temp_path {f / name};"
                          for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        user = "user root;" if os.geteuid() == 0 else ""  # workers must read our temp folder
        (f / "nginx.conf").write_text(f"""
{user}
daemon off;
worker_processes 1;
pid {f / 'nginx.pid'};
error_log {f / 'error.log'} info;
events {{ worker_connections 64; }}
http {{
    access_log {f / 'access.log'};
    client_max_body_size 0;
{temps}
{self._server_block(self.port, False)}
{self._server_block(self.mtls_port, True)}
}}
""", encoding="utf-8")
        self.log = open(f / "stdout.log", "ab")  # noqa: SIM115
        self.proc = subprocess.Popen([nginx_binary(), "-p", str(f), "-c", str(f / "nginx.conf"),
                                      "-e", str(f / "error.log")], stdout=self.log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"nginx exited: {(f / 'error.log').read_text(errors='replace')}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1), \
                        socket.create_connection(("127.0.0.1", self.mtls_port), timeout=1):
                    return self
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("nginx did not listen in time")

    def stop(self) -> None:
        """Stop the nginx master we started (by its pid; it stops its worker), then wait for it."""
        if self.proc is None:
            return
        stop_process(self.proc, lambda pid: os.kill(pid, signal.SIGQUIT))
        self.proc = None
        self.log.close()

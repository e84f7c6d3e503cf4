"""Helpers for the Log Service compatibility suite (test_sls.py).

The Python SDK puts the project in the host name (`<project>.<endpoint>`) and, for an
`ip:port` endpoint, dials that name, which does not resolve. fcemu's services port is also an
HTTP proxy, so the suite sets HTTP_PROXY to it: the unmodified SDK then sends absolute-form
requests (`GET http://proj.127.0.0.1:PORT/logstores ...`) that fcemu routes by their host.
"""

import os
import re
import subprocess
import uuid
from pathlib import Path

import pytest
import requests

REPO = Path(__file__).resolve().parents[2]
READY_RE = re.compile(r"services=(http://[0-9A-Za-z.:\[\]-]+)")

AK = "fcemu-test-key"
SK = "fcemu-test-secret"


def fcemu_binary():
    given = os.environ.get("FCEMU_BIN")
    if given:
        return given
    target = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
    return str(target / "debug" / "fcemu")


class Fcemu:
    """`fcemu up` on an ephemeral port, storage only (no manifest in its working directory)."""

    def __init__(self, workdir, env=None):
        binary = fcemu_binary()
        if not Path(binary).exists():
            pytest.exit(f"{binary} is missing: run `cargo build -p fcemu`", returncode=2)
        self.proc = subprocess.Popen(
            [binary, "up", "--listen", "127.0.0.1:0", "--in-memory", "--no-watch"],
            cwd=workdir,
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, **(env or {})},
        )
        self.endpoint = None
        for _ in range(50):
            line = self.proc.stdout.readline()
            if not line:
                break
            m = READY_RE.search(line)
            if m:
                self.endpoint = m.group(1)
                break
        if self.endpoint is None:
            self.stop()
            raise RuntimeError("fcemu did not print its services address")

    def kill(self):
        """kill -9: no chance to flush anything."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def proxy_env(monkeypatch, endpoint):
    """Routes the SDK's plain-HTTP traffic through fcemu's services port."""
    monkeypatch.setenv("HTTP_PROXY", endpoint)
    monkeypatch.setenv("http_proxy", endpoint)
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)


def unique_project():
    return "p-" + uuid.uuid4().hex[:16]


def raw_request(endpoint, method, project, path, body=b"", headers=None, params=None):
    """A request the SDK would never send (bad bodies, bad headers), through the proxy."""
    host = endpoint.split("://", 1)[1]
    url = f"http://{project}.{host}{path}" if project else f"http://{host}{path}"
    h = {"x-log-apiversion": "0.6.0", "x-log-signaturemethod": "hmac-sha1"}
    h.update(headers or {})
    return requests.request(
        method,
        url,
        data=body,
        headers=h,
        params=params,
        proxies={"http": endpoint},
        timeout=30,
    )

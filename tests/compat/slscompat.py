"""Helpers for the Log Service compatibility suite (test_sls.py).

The Python SDK puts the project in the host name (`<project>.<endpoint>`) and, for an
`ip:port` endpoint, dials that name, which does not resolve. fcemu's services port is also an
HTTP proxy, so the suite sets HTTP_PROXY to it: the unmodified SDK then sends absolute-form
requests (`GET http://proj.127.0.0.1:PORT/logstores ...`) that fcemu routes by their host.
"""

import os
import uuid
from pathlib import Path

import pytest
from serverproc import ServerProcess
import requests

REPO = Path(__file__).resolve().parents[2]

AK = "fcemu-test-key"
SK = "fcemu-test-secret"


def fcemu_binary():
    given = os.environ.get("FCEMU_BIN")
    if given:
        return given
    target = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
    return str(target / "debug" / "fcemu")


class Fcemu(ServerProcess):
    """`fcemu up` on an ephemeral port, storage only (no manifest in its working directory)."""

    def __init__(self, workdir, env=None):
        binary = fcemu_binary()
        if not Path(binary).exists():
            pytest.exit(f"{binary} is missing: run `cargo build -p fcemu`", returncode=2)
        command = [binary, "up", "--listen", "127.0.0.1:0", "--in-memory", "--no-watch"]
        super().__init__(command, env=env, cwd=workdir, what="fcemu")


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

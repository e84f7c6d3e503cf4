"""The pytest plugin: starts `fcemu up` once per session, resets it before each test that asks
for `fcemu`, and compares snapshots of what a test caused in the `.snap` format `fcemu test`
writes (fcemu renders them: `GET /_fcemu/snapshot?format=snap`)."""

import difflib
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
import requests

#: The test credentials fcemu accepts (Table Store clients want the secret to equal the id).
CREDENTIALS = ("fcemu-test-key", "fcemu-test-key")


class SnapshotMismatch(AssertionError):
    """A snapshot differs from the stored one (or there is none yet)."""


def pytest_addoption(parser):
    group = parser.getgroup("fcemu")
    group.addoption("--fcemu-manifest", help="the fcemu.toml (or s.yaml) the fcemu fixture serves")
    group.addoption("--fcemu-accept", action="store_true", help="write fcemu snapshots instead of comparing them")


class Fcemu:
    """A running emulator: its addresses and what tests do with it."""

    def __init__(self, services, gateway, ui, proc=None, accept=False):
        self.services = services
        self.gateway = gateway
        self.ui = ui
        self.credentials = CREDENTIALS
        self._proc = proc
        self._accept = accept
        self._node = None

    @property
    def env(self):
        """What `fcemu exec` gives a command: endpoints, proxy and test credentials."""
        key, secret = self.credentials
        return {
            "FCEMU_ENDPOINT": self.services,
            "FCEMU_GATEWAY": self.gateway,
            "HTTP_PROXY": self.services,
            "http_proxy": self.services,
            "NO_PROXY": "",
            "AWS_ENDPOINT_URL": self.services,
            "ALIBABA_CLOUD_ACCESS_KEY_ID": key,
            "ALIBABA_CLOUD_ACCESS_KEY_SECRET": secret,
            "AWS_ACCESS_KEY_ID": key,
            "AWS_SECRET_ACCESS_KEY": secret,
            "AWS_DEFAULT_REGION": "cn-hangzhou",
        }

    def _admin(self, method, path, **kw):
        r = requests.request(method, f"{self.services}/_fcemu/{path}", timeout=120, **kw)
        if not r.ok:
            raise RuntimeError(f"fcemu {method} /_fcemu/{path}: {r.status_code} {r.text}")
        return r

    def reset(self):
        """Empty stores, what the manifest declares, no records; clock, instances and ids start over."""
        self._admin("POST", "reset?timeout=60&fresh=true")

    def idle(self, timeout=60):
        """Returns once nothing is queued, in transit or running."""
        self._admin("POST", f"idle?timeout={timeout}")

    def invocations(self, **filters):
        """The invocation records (`function=`, `trigger=`, `status=`, ...)."""
        return self._admin("GET", "invocations", params=filters).json()["invocations"]

    def advance(self, by):
        """Moves the virtual clock (`"1h"`, `"90s"`); due timers and log triggers fire."""
        return self._admin("POST", "clock/advance", params={"by": by}).json()

    def snapshot(self, name):
        """Compares what happened since the last snapshot (or reset) with the stored one."""
        node = self._node
        if node is None:
            raise RuntimeError("snapshot() needs the per-test `fcemu` fixture")
        test_file = Path(str(node.fspath))
        source = test_file.name
        text = self._admin("GET", "snapshot", params={"format": "snap", "name": name, "source": source}).text
        safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in node.name)
        path = test_file.parent / "snapshots" / f"{safe}-{name}.snap"
        new = path.with_name(path.name + ".new")
        if self._accept:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            new.unlink(missing_ok=True)
            return
        if path.exists() and _content(path.read_text()) == _content(text):
            new.unlink(missing_ok=True)
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        new.write_text(text)
        if not path.exists():
            raise SnapshotMismatch(f"no snapshot {path.name} yet: wrote {new} (review it, then rerun with --fcemu-accept or rename it)")
        diff = "".join(difflib.unified_diff(path.read_text().splitlines(True), text.splitlines(True), str(path), str(new)))
        raise SnapshotMismatch(f"snapshot {path.name} differs (wrote {new.name}):\n{diff}")

    def stop(self):
        if self._proc is not None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self._proc.kill()


def _content(text):
    """A `.snap` file without its header."""
    if text.startswith("---\n"):
        end = text.find("\n---\n", 4)
        if end >= 0:
            return text[end + 5:]
    return text


@pytest.fixture(scope="session")
def fcemu_manifest(pytestconfig):
    """The manifest the emulator serves (override this fixture to choose another)."""
    given = pytestconfig.getoption("fcemu_manifest") or os.environ.get("FCEMU_MANIFEST")
    return Path(given) if given else Path(str(pytestconfig.rootpath)) / "fcemu.toml"


@pytest.fixture(scope="session")
def fcemu_server(pytestconfig, fcemu_manifest):
    """`fcemu up` on free ports, in memory, deterministic, for the whole session."""
    binary = os.environ.get("FCEMU_BIN") or shutil.which("fcemu")
    if not binary:
        pytest.exit("fcemu is not on PATH: install it or set FCEMU_BIN", returncode=2)
    manifest = Path(fcemu_manifest).resolve()
    workdir = tempfile.mkdtemp(prefix="fcemu-pytest-")
    ready = Path(workdir) / "ready.json"
    args = [binary, "-m", str(manifest), "up", "--in-memory", "--deterministic", "--no-watch",
            "--listen", "127.0.0.1:0", "--ready-file", str(ready)]
    log = open(Path(workdir) / "fcemu.log", "w")
    proc = subprocess.Popen(args, cwd=manifest.parent, stdout=subprocess.PIPE, stderr=log, text=True)
    for line in proc.stdout:
        if line.startswith("fcemu: ready"):
            break
    else:
        proc.wait()
        pytest.exit(f"fcemu did not start:\n{(Path(workdir) / 'fcemu.log').read_text()}", returncode=2)
    info = json.loads(ready.read_text())
    accept = pytestconfig.getoption("fcemu_accept") or os.environ.get("FCEMU_ACCEPT") == "1"
    server = Fcemu(info["services"], info["gateway"], info.get("ui"), proc, accept)
    yield server
    server.stop()
    log.close()
    shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
def fcemu(fcemu_server, request, monkeypatch):
    """The emulator, reset, with its endpoints and test credentials in the environment."""
    fcemu_server.reset()
    for k, v in fcemu_server.env.items():
        monkeypatch.setenv(k, v)
    fcemu_server._node = request.node
    yield fcemu_server
    fcemu_server._node = None

"""Helpers shared by the object store's compatibility suites (a module with its own name, so
it cannot be confused with another directory's conftest)."""

import os
import re
import shlex
import signal
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ADDR_RE = re.compile(r"(?:listening |services=)(http://[0-9A-Za-z.:\[\]-]+)")

AK = "fcemu-test-key"
SK = "fcemu-test-secret"


def server_command():
    cmd = os.environ.get("FCEMU_OSS_SERVER_CMD")
    if cmd:
        return shlex.split(cmd)
    fcemu = os.environ.get("FCEMU_BIN")
    if fcemu:
        # The whole emulator; FCEMU_DATA_DIR (durability tests) takes precedence over --in-memory.
        return [fcemu, "up", "--listen", "127.0.0.1:0", "--in-memory", "--no-watch"]
    target = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
    binary = target / "debug" / "examples" / "oss_server"
    if not binary.exists():
        pytest.exit(
            f"{binary} is missing: run `cargo build -p fcemu-oss --example oss_server` "
            "or set FCEMU_ENDPOINT / FCEMU_OSS_SERVER_CMD",
            returncode=2,
        )
    return [str(binary)]


class Server:
    """A server process started for a test; its address is read from its first lines."""

    def __init__(self, env=None):
        full_env = dict(os.environ)
        full_env.update(env or {})
        self.proc = subprocess.Popen(
            server_command(),
            stdout=subprocess.PIPE,
            stderr=None,
            env=full_env,
            text=True,
        )
        self.endpoint = None
        for _ in range(50):
            line = self.proc.stdout.readline()
            if not line:
                break
            m = ADDR_RE.search(line)
            if m:
                self.endpoint = m.group(1)
                break
        if self.endpoint is None:
            self.stop()
            raise RuntimeError("the server did not print its address")

    def kill(self):
        """kill -9: no chance to flush anything."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()

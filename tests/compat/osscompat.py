"""Helpers shared by the object store's compatibility suites (a module with its own name, so
it cannot be confused with another directory's conftest)."""

import os
import shlex
from pathlib import Path

import pytest
from serverproc import ServerProcess

REPO = Path(__file__).resolve().parents[2]

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


class Server(ServerProcess):
    """The object store server for a test (`server_command()`)."""

    def __init__(self, env=None):
        super().__init__(server_command(), env=env)

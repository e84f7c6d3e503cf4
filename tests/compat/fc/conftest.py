"""Fixtures for the Function Compute SDK suites: an `fcemu up` serving a small app.

The binary comes from FCEMU_BIN (scripts/compat sets it), else target/debug/fcemu.
"""

import os
import re
import subprocess
import tempfile
import textwrap
from pathlib import Path

import pytest
import requests

REPO = Path(__file__).resolve().parents[3]
FIXTURES = REPO / "fixtures" / "target"
READY = re.compile(r"fcemu: ready gateway=(\S+) services=(\S+)")


def fixture(name, target="wasm32-wasip1"):
    path = FIXTURES / target / "release" / f"{name}.wasm"
    if not path.exists():
        pytest.exit(f"{path} is missing: run scripts/build-fixtures", returncode=2)
    return path


MANIFEST = """
name = "fc-compat"

[services.media]
log_project = "media-logs"
log_store = "fc"

[functions.echo]
code = "{echo}"
memory = 256
timeout = 10
env = {{ STAGE = "test" }}
  [[functions.echo.triggers]]
  type = "http"
  methods = ["GET", "POST"]
  path = "/echo"

[functions.echo3]
code = "{echo3}"

[functions.fail]
code = "{fail}"

[functions.trap]
code = "{trap}"

[functions.slow]
code = "{spin}"
timeout = 1
concurrency = 1

[functions.thumb]
service = "media"
code = "{echo}"
  [[functions.thumb.triggers]]
  type = "oss"
  name = "on-upload"
  bucket = "uploads"
  events = ["oss:ObjectCreated:*"]
  prefix = "photos/"
  suffix = ".jpg"
  [[functions.thumb.triggers]]
  type = "timer"
  name = "nightly"
  cron = "0 0 2 * * *"
  payload = "compact"

[functions.audit]
code = "{echo}"
  [[functions.audit.triggers]]
  type = "tablestore"
  instance = "photos"
  table = "photos"
  format = "json"
  [[functions.audit.triggers]]
  type = "tablestore"
  name = "on-comments"
  instance = "photos"
  table = "comments"
  format = "json"

[functions.logger]
service = "media"
code = "{echo}"

[functions.digest]
code = "{echo}"
  [[functions.digest.triggers]]
  type = "log"
  name = "every-5s"
  project = "app-logs"
  logstore = "events"
  interval = 5
  payload = '{{"threshold": 3}}'

[logstores."app-logs/events"]
shards = 1

[tables.photos]
primary_key = [["id", "STRING"], ["n", "INTEGER"]]
stream = true

[functions.api]
code = "{apigw}"
  [[functions.api.triggers]]
  type = "http"
  methods = ["GET", "POST", "PUT"]
  path = "/items/{{id}}"

[functions.api3]
code = "{echo}"
  [[functions.api3.triggers]]
  type = "http"
  path = "/v3/{{rest+}}"
  format = "fc3"

[functions.web]
code = "{web}"
  [[functions.web.triggers]]
  type = "http"
  path = "/web/*"
"""


class Fcemu:
    def __init__(self, extra_args=()):
        self.dir = tempfile.TemporaryDirectory()
        manifest = MANIFEST.format(
            echo=fixture("echo"),
            echo3=fixture("echo", "wasm32-wasip2"),
            fail=fixture("fail"),
            trap=fixture("trap"),
            spin=fixture("spin"),
            apigw=fixture("apigw"),
            web=fixture("http_guest", "wasm32-wasip2"),
        )
        Path(self.dir.name, "fcemu.toml").write_text(textwrap.dedent(manifest))
        binary = os.environ.get("FCEMU_BIN", str(REPO / "target" / "debug" / "fcemu"))
        self.proc = subprocess.Popen(
            [binary, "up", "--listen", "127.0.0.1:0", "--in-memory", *extra_args],
            cwd=self.dir.name,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.gateway = self.services = None
        for line in self.proc.stdout:
            m = READY.search(line)
            if m:
                self.gateway, self.services = m.group(1), m.group(2)
                break
        if self.services is None:
            raise RuntimeError("fcemu up exited before it was ready")
        self.host = self.services.removeprefix("http://")

    def idle(self):
        r = requests.post(f"{self.services}/_fcemu/idle?timeout=30")
        assert r.status_code == 200, r.text

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)
        self.dir.cleanup()


@pytest.fixture(scope="session")
def fcemu():
    server = Fcemu()
    yield server
    server.stop()

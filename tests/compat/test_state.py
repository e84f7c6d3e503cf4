"""State export and import (`fcemu state export`, `fcemu up --import`, `fcemu state import`)
with the real SDKs: what oss2, tablestore and aliyun-log wrote into one emulator comes back
whole in another, and a bad document imports nothing."""

import json
import os
import subprocess
from pathlib import Path

import oss2
import pytest
import requests
import tablestore
from aliyun.log import GetLogsRequest, LogClient, LogItem, PutLogsRequest

REPO = Path(__file__).resolve().parents[1].parent
BINARY = os.environ.get("FCEMU_BIN", str(REPO / "target" / "debug" / "fcemu"))
KEY = "fcemu-state"


class Fcemu:
    def __init__(self, tmp, *extra):
        ready = tmp / f"ready-{len(list(tmp.iterdir()))}.json"
        self.proc = subprocess.Popen(
            [BINARY, "up", "--in-memory", "--no-watch", "--listen", "127.0.0.1:0", "--ready-file", str(ready), *extra],
            cwd=tmp, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for line in self.proc.stdout:
            if line.startswith("fcemu: ready"):
                break
        else:
            raise AssertionError(self.proc.stderr.read())
        self.url = json.loads(ready.read_text())["services"]

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=15)

    def clients(self, monkeypatch):
        monkeypatch.setenv("HTTP_PROXY", self.url)
        monkeypatch.setenv("NO_PROXY", "")
        bucket = oss2.Bucket(oss2.Auth(KEY, KEY), self.url, "seeds", is_cname=True)
        ots = tablestore.OTSClient(self.url, KEY, KEY, "inst", retry_policy=tablestore.NoRetryPolicy())
        logs = LogClient(self.url.split("://", 1)[1], KEY, KEY)
        return bucket, ots, logs


def state_cli(fcemu, *args):
    return subprocess.run([BINARY, "state", *args, "--services", fcemu.url], capture_output=True, text=True, timeout=60)


def test_what_the_sdks_wrote_comes_back_whole(tmp_path, monkeypatch):
    first = Fcemu(tmp_path)
    try:
        bucket, ots, logs = first.clients(monkeypatch)
        bucket.create_bucket()
        bucket.put_object("photos/cat.jpg", b"\xff\xd8\x00binary", headers={"Content-Type": "image/jpeg"})
        bucket.put_object("notes/a.txt", "héllo")
        meta = tablestore.TableMeta("things", [("id", "STRING"), ("n", "INTEGER")])
        ots.create_table(meta, tablestore.TableOptions(), tablestore.ReservedThroughput(tablestore.CapacityUnit(0, 0)))
        ots.put_row("things", tablestore.Row([("id", "a"), ("n", 1)], [("size", 3), ("ratio", 0.5), ("ok", True), ("raw", bytearray(b"\x00\x01"))]))
        ots.put_row("things", tablestore.Row([("id", "b"), ("n", 2)], [("label", "second")]))
        logs.create_project("app", "")
        logs.create_logstore("app", "events", shard_count=1)
        logs.put_logs(PutLogsRequest("app", "events", "web", "host-1", [LogItem(timestamp=1704067200, contents=[("level", "info"), ("msg", "started")])]))
        export = tmp_path / "seed.json"
        export.write_text("previous")
        done = state_cli(first, "export", str(export))
        assert done.returncode == 0, done.stderr
    finally:
        first.stop()
    # With the emulator gone, a failed export leaves the previous file as it was.
    failed = state_cli(first, "export", str(export))
    assert failed.returncode != 0 and "cannot reach fcemu" in failed.stderr
    doc = json.loads(export.read_text())
    assert doc["format"] == "fcemu-state"

    second = Fcemu(tmp_path, "--import", str(export))
    try:
        bucket, ots, logs = second.clients(monkeypatch)
        got = bucket.get_object("photos/cat.jpg")
        assert got.read() == b"\xff\xd8\x00binary" and got.headers["Content-Type"] == "image/jpeg"
        assert bucket.get_object("notes/a.txt").read().decode() == "héllo"
        _, row, _ = ots.get_row("things", [("id", "a"), ("n", 1)], max_version=1)
        assert {c[0]: c[1] for c in row.attribute_columns} == {"size": 3, "ratio": 0.5, "ok": True, "raw": bytearray(b"\x00\x01")}
        _, row, _ = ots.get_row("things", [("id", "b"), ("n", 2)], max_version=1)
        assert [c[1] for c in row.attribute_columns] == ["second"]
        found = logs.get_logs(GetLogsRequest("app", "events", 0, 4102444800, query="level: info"))
        (log,) = found.get_logs()
        fields = log.get_contents()
        assert (fields["msg"], fields["__topic__"], log.get_source()) == ("started", "web", "host-1")
        assert int(log.get_time()) == 1704067200

        # A bad document imports nothing, and says why.
        bad = json.loads(export.read_text())
        bad["buckets"][0]["objects"].append({"key": "x", "base64": "***"})
        bad_file = tmp_path / "bad.json"
        bad_file.write_text(json.dumps(bad))
        refused = requests.post(f"{second.url}/_fcemu/state", data=bad_file.read_text(), timeout=30)
        assert refused.status_code == 400 and "nothing was imported" in refused.json()["message"]
        cli = state_cli(second, "import", str(bad_file))
        assert cli.returncode != 0 and "base64" in cli.stderr
        with pytest.raises(oss2.exceptions.NoSuchKey):
            bucket.get_object("x")
        # A good one adds to what is there.
        again = state_cli(second, "import", str(export))
        assert again.returncode == 0 and "imported 2 objects, 2 rows, 1 logs" in again.stderr
    finally:
        second.stop()

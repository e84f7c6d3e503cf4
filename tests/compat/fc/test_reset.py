"""POST /_fcemu/reset: a clean slate between tests without a restart, checked with the real SDKs."""

import oss2
import pytest
import requests
from aliyun.log import LogClient, LogItem, PutLogsRequest
from tablestore import OTSClient, Row

from conftest import Fcemu


@pytest.fixture
def fresh(monkeypatch):
    server = Fcemu(["--deterministic"])
    monkeypatch.setenv("HTTP_PROXY", server.services)
    monkeypatch.setenv("http_proxy", server.services)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    yield server
    server.stop()


def test_reset_forgets_everything_and_recreates_what_the_manifest_declares(fresh):
    auth = oss2.Auth("test-ak", "test-secret")
    uploads = oss2.Bucket(auth, fresh.services, "uploads")
    uploads.put_object("photos/a.jpg", b"jpeg")
    scratch = oss2.Bucket(auth, fresh.services, "scratch-bucket")
    scratch.create_bucket()
    tables = OTSClient(fresh.services, "test-ak", "test-ak", "photos")
    tables.put_row("photos", Row([("id", "a"), ("n", 1)], [("title", "t")]))
    logs = LogClient(fresh.host, "test-ak", "test-secret")
    logs.put_logs(PutLogsRequest("app-logs", "events", "", "", [LogItem(contents=[("msg", "m")])]))
    fresh.idle()
    assert requests.get(f"{fresh.services}/_fcemu/invocations").json()["invocations"]

    r = requests.post(f"{fresh.services}/_fcemu/reset")
    assert r.status_code == 200, r.text
    assert r.json() == {"reset": True}

    assert [b.name for b in oss2.Service(auth, fresh.services).list_buckets().buckets] == ["uploads"]
    assert list(oss2.ObjectIterator(uploads)) == []
    _, row, _ = tables.get_row("photos", [("id", "a"), ("n", 1)], max_version=1)
    assert row is None
    begin = logs.get_cursor("app-logs", "events", 0, "begin").get_cursor()
    end = logs.get_cursor("app-logs", "events", 0, "end").get_cursor()
    assert begin == end
    assert requests.get(f"{fresh.services}/_fcemu/invocations").json()["invocations"] == []
    # Writes after a reset fire triggers as before.
    uploads.put_object("photos/b.jpg", b"jpeg")
    fresh.idle()
    assert [i["function"] for i in requests.get(f"{fresh.services}/_fcemu/invocations").json()["invocations"]] == ["thumb"]

"""The log trigger driven by the real Log Service SDK, on a virtual clock: logs written with
aliyun-log-python-sdk are delivered once the trigger's interval has passed on the emulator's
clock, as FC's event with cursors the function can pull the logs with."""

import json

import pytest
import requests
from aliyun.log import LogClient, LogItem, PutLogsRequest

from conftest import Fcemu


@pytest.fixture
def virtual(monkeypatch):
    server = Fcemu(["--deterministic"])
    # The SDK puts the project in the host name; fcemu's services port is the HTTP proxy.
    monkeypatch.setenv("HTTP_PROXY", server.services)
    monkeypatch.setenv("http_proxy", server.services)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    yield server
    server.stop()


def put(client, messages):
    items = [LogItem(contents=[("msg", m)]) for m in messages]
    client.put_logs(PutLogsRequest("app-logs", "events", "topic", "source", items))


def invocations(server):
    return requests.get(f"{server.services}/_fcemu/invocations", params={"function": "digest"}).json()["invocations"]


def advance(server, seconds):
    r = requests.post(f"{server.services}/_fcemu/clock/advance", params={"seconds": seconds})
    assert r.status_code == 200, r.text
    server.idle()
    return r.json()["fired"]


def test_logs_are_delivered_once_per_interval_with_pullable_cursors(virtual):
    client = LogClient(virtual.host, "test-ak", "test-secret")
    put(client, ["one", "two"])
    put(client, ["three"])
    virtual.idle()
    assert advance(virtual, 4) == []
    assert invocations(virtual) == []

    fired = advance(virtual, 1)
    assert [(f["function"], f["trigger"]) for f in fired] == [("digest", "every-5s")]
    (record,) = invocations(virtual)
    assert record["status"] == "success"
    event = json.loads(record["event"])
    assert event["parameter"] == {"threshold": 3}
    source = event["source"]
    assert (source["projectName"], source["logstoreName"], source["shardId"]) == ("app-logs", "events", 0)
    assert isinstance(event["cursorTime"], int) and event["taskId"]

    pulled = client.pull_logs("app-logs", "events", 0, source["beginCursor"], 10, source["endCursor"])
    groups = pulled.get_loggroup_json_list()
    assert [log["msg"] for g in groups for log in g["logs"]] == ["one", "two", "three"]

    # The next batch starts where the last one ended.
    put(client, ["four"])
    virtual.idle()
    advance(virtual, 5)
    second = [json.loads(r["event"]) for r in invocations(virtual) if r["requestId"] != record["requestId"]]
    assert len(second) == 1
    assert second[0]["source"]["beginCursor"] == source["endCursor"]

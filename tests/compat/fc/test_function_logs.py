"""Functions' logs land in their service's logstore, read back with the real Log Service SDK."""

import requests
from aliyun.log import LogClient


def test_invocation_logs_are_written_to_the_service_logstore(fcemu, monkeypatch):
    # `logger` belongs to service `media`, whose logs go to media-logs/fc (created at start).
    r = requests.post(f"{fcemu.services}/_fcemu/functions/logger/invoke", data=b'{"hello": "logs"}')
    assert r.status_code == 200, r.text
    request_id = r.headers["x-fc-request-id"]
    fcemu.idle()

    monkeypatch.setenv("HTTP_PROXY", fcemu.services)
    monkeypatch.setenv("http_proxy", fcemu.services)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    client = LogClient(fcemu.host, "test-ak", "test-secret")
    logs = []
    for shard in client.list_shards("media-logs", "fc").get_shards_info():
        sid = shard["shardID"]
        begin = client.get_cursor("media-logs", "fc", sid, "begin").get_cursor()
        end = client.get_cursor("media-logs", "fc", sid, "end").get_cursor()
        for group in client.pull_logs("media-logs", "fc", sid, begin, 100, end).get_loggroup_json_list():
            assert group["topic"] == "media"
            logs += [log for log in group["logs"] if log.get("requestId") == request_id]
    messages = [log["message"] for log in logs]
    assert messages[0] == f"FC Invoke Start RequestId: {request_id}"
    assert messages[-1] == f"FC Invoke End RequestId: {request_id}"
    assert any("echo:" in m for m in messages[1:-1]), messages
    assert {(log["functionName"], log["serviceName"], log["qualifier"]) for log in logs} == {("logger", "media", "LATEST")}

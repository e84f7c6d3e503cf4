"""The Log Service against the real Python SDK (aliyun-log-python-sdk 0.9.52), unmodified.

The SDK reaches `<project>.127.0.0.1:PORT` through HTTP_PROXY pointing at fcemu's services port
(see slscompat.py). Every assertion is on what the SDK parsed.
"""

import threading
import time

import lz4.block
import pytest
from aliyun.log import (
    GetHistogramsRequest,
    ListTopicsRequest,
    IndexConfig,
    IndexKeyConfig,
    IndexLineConfig,
    LogClient,
    LogException,
    LogItem,
    PutLogsRequest,
)
from aliyun.log.log_logs_pb2 import LogGroup

from slscompat import AK, SK, Fcemu, proxy_env, raw_request, unique_project

NOW = int(time.time())


@pytest.fixture(scope="session")
def sls_endpoint(request, tmp_path_factory):
    import os

    given = os.environ.get("FCEMU_SLS_ENDPOINT")
    if given:
        yield given.rstrip("/")
        return
    if os.environ.get("FCEMU_BIN") and not os.environ.get("FCEMU_OSS_SERVER_CMD"):
        # The shared session server is `fcemu up`: reuse it.
        yield request.getfixturevalue("endpoint")
        return
    server = Fcemu(tmp_path_factory.mktemp("sls"))
    yield server.endpoint
    server.stop()


@pytest.fixture
def client(sls_endpoint, monkeypatch):
    proxy_env(monkeypatch, sls_endpoint)
    return LogClient(sls_endpoint.split("://", 1)[1], AK, SK)


@pytest.fixture
def project(client):
    name = unique_project()
    client.create_project(name, "compat suite")
    yield name
    try:
        client.delete_project(name)
    except LogException:
        pass


@pytest.fixture
def store(client, project):
    client.create_logstore(project, "store1", ttl=7, shard_count=2)
    return "store1"


def error_of(fn, *args, **kwargs):
    with pytest.raises(LogException) as e:
        fn(*args, **kwargs)
    return e.value.get_error_code(), e.value.get_resp_status()


def put(client, project, store, logs, topic="mytopic", source="mysource", tags=None, **kw):
    items = []
    for t, contents in logs:
        item = LogItem(timestamp=t, contents=list(contents.items()))
        items.append(item)
    req = PutLogsRequest(project, store, topic, source, items, logtags=tags, **kw)
    return client.put_logs(req)


def flat(resp):
    rows = resp.get_flatten_logs_json()
    for r in rows:
        r.pop("__time_ns_part__", None)
    return rows


# ---------------------------------------------------------------------------------------------
# projects and logstores


def test_project_lifecycle(client):
    name = unique_project()
    client.create_project(name, "first")
    p = client.get_project(name)
    assert p.get_projectname() == name
    assert p.get_description() == "first"
    assert p.get_status() == "Normal"
    assert p.get_region() == "cn-hangzhou"
    assert int(p.get_create_time()) > 0

    listed = client.list_project(size=500)
    assert name in [x["projectName"] for x in listed.get_projects()]
    assert listed.get_total() >= 1

    assert error_of(client.create_project, name, "again") == ("ProjectAlreadyExist", 400)
    client.update_project(name, "second")
    assert client.get_project(name).get_description() == "second"

    client.delete_project(name)
    assert error_of(client.get_project, name) == ("ProjectNotExist", 404)
    assert error_of(client.delete_project, name) == ("ProjectNotExist", 404)


def test_logstore_lifecycle(client, project):
    client.create_logstore(project, "store1", ttl=7, shard_count=3, append_meta=True)
    ls = client.get_logstore(project, "store1")
    assert ls.get_ttl() == 7
    assert ls.get_shard_count() == 3
    assert ls.append_meta is True and ls.max_split_shard == 64
    assert ls.get_enable_tracking() is False

    client.create_logstore(project, "store2")
    listed = client.list_logstore(project)
    assert listed.get_logstores() == ["store1", "store2"]
    assert (listed.get_logstores_count(), listed.get_logstores_total()) == (2, 2)
    assert client.list_logstore(project, "store2").get_logstores() == ["store2"]

    client.update_logstore(project, "store1", ttl=30)
    ls = client.get_logstore(project, "store1")
    assert (ls.get_ttl(), ls.get_shard_count()) == (30, 3)

    assert error_of(client.create_logstore, project, "store1") == ("LogStoreAlreadyExist", 400)
    assert error_of(client.create_logstore, project, "Bad.Name")[0] == "LogStoreInfoInvalid"
    assert error_of(client.create_logstore, project, "s3", ttl=0)[0] == "LogStoreInfoInvalid"

    client.delete_logstore(project, "store2")
    assert error_of(client.get_logstore, project, "store2") == ("LogStoreNotExist", 404)
    assert client.list_logstore(project).get_logstores() == ["store1"]

    missing = unique_project()
    assert error_of(client.create_logstore, missing, "store1") == ("ProjectNotExist", 404)
    assert error_of(client.list_logstore, missing) == ("ProjectNotExist", 404)


def test_list_shards(client, project, store):
    shards = client.list_shards(project, store).get_shards_info()
    assert [s["shardID"] for s in shards] == [0, 1]
    assert all(s["status"] == "readwrite" for s in shards)
    assert shards[0]["inclusiveBeginKey"] == "0" * 32
    assert shards[0]["exclusiveEndKey"] == "8" + "0" * 31
    assert shards[1]["inclusiveBeginKey"] == "8" + "0" * 31
    assert shards[1]["exclusiveEndKey"] == "f" * 32
    assert error_of(client.list_shards, project, "nope") == ("LogStoreNotExist", 404)


def test_index_config(client, project, store):
    line = IndexLineConfig([" ", ","], case_sensitive=False)
    keys = {"level": IndexKeyConfig([" "], case_sensitive=False)}
    client.create_index(project, store, IndexConfig(line_config=line, key_config_list=keys))
    got = client.get_index_config(project, store).get_index_config()
    assert got.line_config.token_list == [" ", ","]
    assert list(got.key_config_list) == ["level"]
    assert error_of(
        client.create_index, project, store, IndexConfig(line_config=line)
    )[0] == "IndexAlreadyExist"

    client.update_index(project, store, IndexConfig(line_config=IndexLineConfig([";"])))
    got = client.get_index_config(project, store).get_index_config()
    assert got.line_config.token_list == [";"]

    client.delete_index(project, store)
    assert error_of(client.get_index_config, project, store)[0] == "IndexConfigNotExist"


# ---------------------------------------------------------------------------------------------
# writing and reading by cursor


def pull_all(client, project, store, shard, **kw):
    begin = client.get_cursor(project, store, shard, "begin").get_cursor()
    end = client.get_cursor(project, store, shard, "end").get_cursor()
    resp = client.pull_logs(project, store, shard, begin, end_cursor=end, **kw)
    assert resp.get_next_cursor() == end
    return resp


@pytest.mark.parametrize("compress", [True, False])
def test_put_then_pull_round_trip(client, project, store, compress):
    logs = [(NOW - 10 + i, {"message": f"hello {i}", "level": "INFO"}) for i in range(3)]
    put(client, project, store, logs, tags=[("k1", "v1")], compress=compress)

    # shards/lb is round robin from shard 0: the first group lands there.
    resp = pull_all(client, project, store, 0, compress=compress)
    assert resp.get_loggroup_count() == 1
    assert resp.get_log_count() == 3
    rows = flat(resp)
    receive_time = rows[0]["__tag__:__receive_time__"]
    assert abs(int(receive_time) - time.time()) < 60
    assert rows == [
        {
            "__time__": NOW - 10 + i,
            "__topic__": "mytopic",
            "__source__": "mysource",
            "__tag__:k1": "v1",
            "__tag__:__receive_time__": receive_time,
            "message": f"hello {i}",
            "level": "INFO",
        }
        for i in range(3)
    ]
    assert pull_all(client, project, store, 1).get_loggroup_count() == 0


def test_cursors_and_paging(client, project, store):
    for i in range(6):
        put(client, project, store, [(NOW, {"n": str(i)})])
    # Round robin: groups 0, 2, 4 on shard 0.
    begin = client.get_cursor(project, store, 0, "begin").get_cursor()
    end = client.get_cursor(project, store, 0, "end").get_cursor()
    assert (begin, end) == ("MA==", "Mw==")

    first = client.pull_logs(project, store, 0, begin, count=2)
    assert first.get_loggroup_count() == 2
    assert [r["n"] for r in flat(first)] == ["0", "2"]
    second = client.pull_logs(project, store, 0, first.get_next_cursor(), count=2)
    assert [r["n"] for r in flat(second)] == ["4"]
    assert second.get_next_cursor() == end
    empty = client.pull_logs(project, store, 0, end)
    assert empty.get_loggroup_count() == 0
    assert empty.get_next_cursor() == end

    # Receive-time cursors: everything was received just now.
    assert client.get_cursor(project, store, 0, NOW - 3600).get_cursor() == begin
    assert client.get_cursor(project, store, 0, NOW + 3600).get_cursor() == end
    t = client.get_cursor_time(project, store, 0, begin).get_cursor_time()
    assert abs(t - time.time()) < 60
    last = client.get_cursor_time(project, store, 0, "Mg==").get_cursor_time()
    assert client.get_previous_cursor_time(project, store, 0, end).get_cursor_time() == last >= t
    # The end cursor names no group: its time is the last group's.
    assert client.get_cursor_time(project, store, 0, end).get_cursor_time() == last

    # pull_log iterates from time to time, stopping at the end cursor.
    got = []
    for resp in client.pull_log(project, store, 1, NOW - 3600, "end"):
        got += [r["n"] for r in flat(resp)]
    assert got == ["1", "3", "5"]


def test_hash_key_routing(client, project, store):
    put(client, project, store, [(NOW, {"to": "zero"})], hashKey="0" * 32)
    put(client, project, store, [(NOW, {"to": "one"})], hashKey="f" * 32)
    assert [r["to"] for r in flat(pull_all(client, project, store, 0))] == ["zero"]
    assert [r["to"] for r in flat(pull_all(client, project, store, 1))] == ["one"]


# ---------------------------------------------------------------------------------------------
# searching


@pytest.fixture
def searchable(client, project, store):
    put(
        client,
        project,
        store,
        [
            (NOW - 50, {"level": "INFO", "message": "GET /api/users 200", "latency": "12"}),
            (NOW - 40, {"level": "ERROR", "message": "GET /api/orders 500", "latency": "340"}),
            (NOW - 30, {"level": "WARN", "message": "slow request /api/users", "latency": "150"}),
        ],
        topic="web",
    )
    put(
        client,
        project,
        store,
        [(NOW - 20, {"level": "INFO", "message": "worker started", "latency": "1"})],
        topic="worker",
    )
    return project, store


def messages(resp):
    return [log.get_contents()["message"] for log in resp.get_logs()]


@pytest.mark.parametrize(
    "query,expected",
    [
        ("*", ["GET /api/users 200", "GET /api/orders 500", "slow request /api/users", "worker started"]),
        ("", ["GET /api/users 200", "GET /api/orders 500", "slow request /api/users", "worker started"]),
        ("level: ERROR", ["GET /api/orders 500"]),
        ("level:info", ["GET /api/users 200", "worker started"]),
        ("users", ["GET /api/users 200", "slow request /api/users"]),
        ("users and not level: WARN", ["GET /api/users 200"]),
        ("level: ERROR or level: WARN", ["GET /api/orders 500", "slow request /api/users"]),
        ("users not slow", ["GET /api/users 200"]),
        ("(orders or worker) and latency > 100", ["GET /api/orders 500"]),
        ("latency in [1 150)", ["GET /api/users 200", "worker started"]),
        ("work*", ["worker started"]),
        ('"api/orders"', ["GET /api/orders 500"]),
        ("__topic__: worker", ["worker started"]),
        ("nothing-matches-this", []),
    ],
)
def test_get_logs_queries(client, searchable, query, expected):
    project, store = searchable
    resp = client.get_log(project, store, NOW - 100, NOW + 100, query=query)
    assert resp.is_completed()
    assert messages(resp) == expected
    assert resp.get_count() == len(expected)


def test_get_logs_rows_time_range_and_paging(client, searchable):
    project, store = searchable
    resp = client.get_log(project, store, NOW - 40, NOW - 20, query="*")
    assert messages(resp) == ["GET /api/orders 500", "slow request /api/users"]
    log = resp.get_logs()[0]
    assert log.get_time() == NOW - 40
    assert log.get_source() == "mysource"
    contents = log.get_contents()
    assert contents["level"] == "ERROR" and contents["latency"] == "340"
    assert contents["__topic__"] == "web"

    newest_first = client.get_log(project, store, NOW - 100, NOW, reverse=True, size=2, offset=1)
    assert messages(newest_first) == ["slow request /api/users", "GET /api/orders 500"]

    by_topic = client.get_log(project, store, NOW - 100, NOW, topic="web", query="users")
    assert messages(by_topic) == ["GET /api/users 200", "slow request /api/users"]


def test_get_logs_legacy_v1(client, searchable):
    project, store = searchable
    client._get_logs_v2_enabled = False  # the GET ?type=log form older tools use
    resp = client.get_log(project, store, NOW - 100, NOW + 100, query="level: INFO")
    assert messages(resp) == ["GET /api/users 200", "worker started"]
    assert resp.get_count() == 2
    assert resp.is_completed()


def test_count_query_and_histograms(client, searchable):
    project, store = searchable
    resp = client.get_log(project, store, NOW - 100, NOW + 100, query="api | select count(*) as pv")
    assert [log.get_contents() for log in resp.get_logs()] == [{"pv": "3"}]

    hist = client.get_histograms(
        GetHistogramsRequest(project, store, NOW - 100, NOW + 100, query="level: INFO")
    )
    assert hist.is_completed()
    assert hist.get_total_count() == 2
    buckets = hist.get_histograms()
    assert buckets[0].get_from() == NOW - 100
    assert buckets[-1].get_to() == NOW + 100
    assert sum(b.get_count() for b in buckets) == 2

    code, status = error_of(
        client.get_log, project, store, NOW - 100, NOW, query="* | select time_series(__time__, '1m', '%H:%i', '0')"
    )
    assert (code, status) == ("ParameterInvalid", 400)
    assert error_of(client.get_log, project, store, NOW - 100, NOW, query="level: (")[0] == "ParameterInvalid"


def rows_of(resp):
    return [log.get_contents() for log in resp.get_logs()]


def test_analytic_sql(client, searchable):
    """The analytic part runs as SQL over the rows the search part selected: grouping, ordering,
    the dialect's aggregates and time functions, as dashboards and alerts query."""
    project, store = searchable
    q = lambda text: rows_of(client.get_log(project, store, NOW - 100, NOW + 100, query=text))
    assert q("* | select level, count(*) as c, max(cast(latency as bigint)) as worst group by level order by c desc, level") == [
        {"level": "INFO", "c": "2", "worst": "12"},
        {"level": "ERROR", "c": "1", "worst": "340"},
        {"level": "WARN", "c": "1", "worst": "150"},
    ]
    assert q("api | select approx_distinct(level) as uv, count_if(cast(latency as bigint) > 100) as slow, avg(cast(latency as double)) as mean") == [
        {"uv": "3", "slow": "2", "mean": "167.33333333333334"}
    ]
    minute = NOW - NOW % 60
    got = q("* | select __topic__ as topic, min(__time__) as first group by topic order by topic")
    assert got == [{"topic": "web", "first": str(NOW - 50)}, {"topic": "worker", "first": str(NOW - 20)}]
    got = q("* | select date_trunc('hour', __time__) as h, count(*) as n group by h")
    assert len(got) in (1, 2) and sum(int(r["n"]) for r in got) == 4
    assert q("* | select split_part(message, ' ', 1) as verb where regexp_like(message, '^GET') order by verb limit 1") == [{"verb": "GET"}]
    assert q(f"* | select count(*) as n where __time__ >= {minute}")[0]["n"] == str(sum(1 for t in (50, 40, 30, 20) if NOW - t >= minute))
    code, status = error_of(client.get_log, project, store, NOW - 100, NOW + 100, query="* | select nothing_here")
    assert (code, status) == ("ParameterInvalid", 400)


# ---------------------------------------------------------------------------------------------
# errors


def test_read_and_write_errors(client, project, store):
    assert error_of(put, client, project, "nope", [(NOW, {"a": "b"})]) == ("LogStoreNotExist", 404)
    assert error_of(put, client, unique_project(), store, [(NOW, {"a": "b"})]) == ("ProjectNotExist", 404)
    assert error_of(client.get_cursor, project, store, 7, "begin") == ("ShardNotExist", 404)
    assert error_of(client.pull_logs, project, store, 0, "bm90IGEgY3Vyc29y") == ("InvalidCursor", 400)
    assert error_of(client.pull_logs, project, store, 0, "OTk5") == ("InvalidCursor", 400)
    assert error_of(client.get_cursor_time, project, store, 0, "MA==") == ("InvalidCursor", 400)


def test_wire_level_body_errors(sls_endpoint, project, store):
    path = f"/logstores/{store}/shards/lb"
    ct = {"Content-Type": "application/x-protobuf"}

    def err(r):
        assert r.headers["x-log-requestid"]
        body = r.json()
        assert set(body) == {"errorCode", "errorMessage"}
        return body["errorCode"], r.status_code

    r = raw_request(sls_endpoint, "POST", project, path, b"\xff\xff\xff", ct)
    assert err(r) == ("PostBodyInvalid", 400)

    group = LogGroup()
    log = group.Logs.add()
    log.Time = NOW
    c = log.Contents.add()
    c.Key, c.Value = "k", "v"
    raw = group.SerializeToString()
    lz4_body = lz4.block.compress(raw)[4:]

    hdr = dict(ct, **{"x-log-compresstype": "lz4", "x-log-bodyrawsize": str(len(raw) + 5)})
    assert err(raw_request(sls_endpoint, "POST", project, path, lz4_body, hdr)) == ("PostBodyUncompressError", 400)
    hdr = dict(ct, **{"x-log-compresstype": "snappy", "x-log-bodyrawsize": str(len(raw))})
    assert err(raw_request(sls_endpoint, "POST", project, path, lz4_body, hdr)) == ("InvalidCompressType", 400)
    hdr = dict(ct, **{"x-log-compresstype": "lz4"})
    assert err(raw_request(sls_endpoint, "POST", project, path, lz4_body, hdr)) == ("MissingBodyRawSize", 400)
    hdr = dict(ct, **{"x-log-compresstype": "lz4", "x-log-bodyrawsize": str(20 * 1024 * 1024)})
    assert err(raw_request(sls_endpoint, "POST", project, path, lz4_body, hdr)) == ("PostBodyTooLarge", 413)

    hdr = dict(ct, **{"x-log-compresstype": "lz4", "x-log-bodyrawsize": str(len(raw))})
    ok = raw_request(sls_endpoint, "POST", project, path, lz4_body, hdr)
    assert ok.status_code == 200 and ok.content == b""
    assert len(ok.headers["x-log-requestid"]) == 24

    r = raw_request(sls_endpoint, "POST", project, "/logstores", b"{not json", {"Content-Type": "application/json"})
    assert err(r) == ("PostBodyInvalid", 400)
    r = raw_request(sls_endpoint, "GET", project, f"/logstores/{store}/shards/0", params={"type": "cursor", "from": "soon"})
    assert err(r) == ("ParameterInvalid", 400)
    r = raw_request(sls_endpoint, "GET", None, "/logstores")
    assert err(r) == ("InvalidHost", 400)
    r = raw_request(sls_endpoint, "GET", project, "/logstores/store1/topics-are-not-here")
    assert err(r) == ("NotSupported", 400)


# ---------------------------------------------------------------------------------------------
# consumer groups


def test_consumer_group_apis(client, project, store):
    client.create_consumer_group(project, store, "cg1", 30, in_order=False)
    assert error_of(client.create_consumer_group, project, store, "cg1", 30) == ("ConsumerGroupAlreadyExist", 400)
    groups = client.list_consumer_group(project, store).get_consumer_groups()
    assert [(g.get_consumer_group_name(), g.get_timeout(), g.is_in_order()) for g in groups] == [("cg1", 30, False)]
    client.update_consumer_group(project, store, "cg1", timeout=60, in_order=True)
    g = client.list_consumer_group(project, store).get_consumer_groups()[0]
    assert (g.get_timeout(), g.is_in_order()) == (60, True)

    assert sorted(client.heart_beat(project, store, "cg1", "c1", []).get_shards()) == [0, 1]
    mine = client.heart_beat(project, store, "cg1", "c2", []).get_shards()
    theirs = client.heart_beat(project, store, "cg1", "c1", [0, 1]).get_shards()
    assert len(mine) == 1 and len(theirs) == 1 and set(mine) != set(theirs)

    client.update_check_point(project, store, "cg1", 1, "MA==", consumer="c2")
    points = client.get_check_point(project, store, "cg1").get_consumer_group_check_points()
    assert [(p["shard"], p["checkpoint"]) for p in points] == [(0, ""), (1, "MA==")]
    one = client.get_check_point(project, store, "cg1", shard=1).get_consumer_group_check_points()
    assert one[0]["consumer"] == "c2" and one[0]["updateTime"] > 0
    assert error_of(client.update_check_point, project, store, "cg1", 0, "bogus")[0] == "InvalidShardCheckPoint"

    client.delete_consumer_group(project, store, "cg1")
    assert error_of(client.get_check_point, project, store, "cg1") == ("ConsumerGroupNotExist", 404)


def test_consumer_worker_reads_every_group(client, project, store, sls_endpoint):
    from aliyun.log.consumer import ConsumerProcessorAdaptor, ConsumerWorker, CursorPosition, LogHubConfig

    for i in range(4):
        put(client, project, store, [(NOW, {"n": str(i)})])
    seen = []
    all_seen = threading.Event()

    def process(shard_id, log_groups):
        for group in log_groups.LogGroups:
            for log in group.Logs:
                seen.append({c.Key: c.Value for c in log.Contents}["n"])
        if len(seen) >= 4:
            all_seen.set()

    config = LogHubConfig(
        sls_endpoint.split("://", 1)[1], AK, SK, project, store, "cg-worker", "consumer-1",
        cursor_position=CursorPosition.BEGIN_CURSOR, heartbeat_interval=1, data_fetch_interval=0.1,
    )
    worker = ConsumerWorker(lambda: ConsumerProcessorAdaptor(process), config)
    worker.start()
    try:
        all_seen.wait(timeout=30)
    finally:
        worker.shutdown()
        worker.join(timeout=30)
    assert not worker.is_alive()
    assert sorted(seen) == ["0", "1", "2", "3"]
    points = client.get_check_point(project, store, "cg-worker").get_consumer_group_check_points()
    assert {p["shard"]: p["checkpoint"] for p in points} == {0: "Mg==", 1: "Mg=="}


# ---------------------------------------------------------------------------------------------
# strict authentication


@pytest.fixture(scope="module")
def strict_endpoint(tmp_path_factory):
    server = Fcemu(tmp_path_factory.mktemp("sls-strict"), {"FCEMU_STRICT_AUTH": f"{AK}:{SK}"})
    yield server.endpoint
    server.stop()


@pytest.mark.parametrize("version", ["v1", "v4"])
def test_strict_mode_accepts_both_signature_versions(strict_endpoint, monkeypatch, version):
    proxy_env(monkeypatch, strict_endpoint)
    host = strict_endpoint.split("://", 1)[1]
    c = LogClient(host, AK, SK, auth_version=version, region="cn-hangzhou")
    project = unique_project()
    c.create_project(project, "signed")
    assert project in [p["projectName"] for p in c.list_project(size=500).get_projects()]
    c.create_logstore(project, "store1", shard_count=1)
    put(c, project, "store1", [(NOW, {"message": "signed ok", "q": "a b+c/d"})])
    resp = c.get_log(project, "store1", NOW - 10, NOW + 10, query='message: "signed ok"')
    assert messages(resp) == ["signed ok"]
    assert flat(pull_all(c, project, "store1", 0))[0]["message"] == "signed ok"

    wrong = LogClient(host, AK, "not-the-secret", auth_version=version, region="cn-hangzhou")
    assert error_of(wrong.get_project, project) == ("SignatureNotMatch", 401)
    stranger = LogClient(host, "someone-else", SK, auth_version=version, region="cn-hangzhou")
    assert error_of(stranger.get_project, project) == ("Unauthorized", 401)


def test_get_logs_pages_beyond_one_hundred_rows(client, project, store):
    put(client, project, store, [(NOW - 100 + i % 50, {"n": str(i)}) for i in range(250)])
    resp = client.get_log(project, store, NOW - 200, NOW + 10, query="*", size=-1)
    assert resp.get_count() == 250
    assert sorted(int(log.get_contents()["n"]) for log in resp.get_logs()) == list(range(250))
    times = [log.get_time() for log in resp.get_logs()]
    assert times == sorted(times)
    page = client.get_log(project, store, NOW - 200, NOW + 10, query="*", size=1000, offset=200)
    assert page.get_count() == 50
    total = 0
    for part in client.get_log_all(project, store, NOW - 200, NOW + 10, query="*"):
        total += part.get_count()
    assert total == 250


def test_list_topics(client, project, store):
    for topic in ["web", "api", "web", "worker"]:
        put(client, project, store, [(NOW, {"k": "v"})], topic=topic)
    first = client.list_topics(ListTopicsRequest(project, store, None, 2))
    assert first.get_topics() == ["api", "web"]
    assert int(first.get_count()) == 2
    rest = client.list_topics(ListTopicsRequest(project, store, first.get_next_token(), 2))
    assert rest.get_topics() == ["worker"]
    assert rest.get_next_token() == ""


# ---------------------------------------------------------------------------------------------
# durability


def test_kill_9_keeps_every_acknowledged_write(tmp_path, monkeypatch):
    import threading

    env = {"FCEMU_DATA_DIR": str(tmp_path / "data")}
    server = Fcemu(tmp_path, env)
    try:
        proxy_env(monkeypatch, server.endpoint)
        host = server.endpoint.split("://", 1)[1]
        c = LogClient(host, AK, SK)
        project = unique_project()
        c.create_project(project, "durable")
        c.create_logstore(project, "store1", shard_count=2)

        acked, lock, enough = [], threading.Lock(), threading.Event()

        def writer(w):
            # Raw requests, not the SDK: it would retry a refused connection for ten seconds.
            for i in range(10_000):
                tag = f"{w}-{i}"
                group = LogGroup()
                log = group.Logs.add()
                log.Time = NOW
                content = log.Contents.add()
                content.Key, content.Value = "id", tag
                try:
                    r = raw_request(
                        server.endpoint, "POST", project, "/logstores/store1/shards/lb",
                        group.SerializeToString(), {"Content-Type": "application/x-protobuf"},
                    )
                except Exception:
                    return
                if r.status_code != 200:
                    return
                with lock:
                    acked.append(tag)
                    if len(acked) >= 200:
                        enough.set()

        threads = [threading.Thread(target=writer, args=(w,), daemon=True) for w in range(4)]
        for t in threads:
            t.start()
        assert enough.wait(60)
        server.kill()
        for t in threads:
            t.join(60)
    finally:
        server.stop()

    server = Fcemu(tmp_path, env)
    try:
        proxy_env(monkeypatch, server.endpoint)
        c = LogClient(server.endpoint.split("://", 1)[1], AK, SK)
        stored = []
        ends = {}
        for shard in (0, 1):
            resp = pull_all(c, project, "store1", shard)
            stored += [r["id"] for r in flat(resp)]
            ends[shard] = c.get_cursor(project, "store1", shard, "end").get_cursor()
        assert set(acked) <= set(stored)
        assert len(stored) == len(set(stored))
        # Positions go on where they stopped.
        put(c, project, "store1", [(NOW, {"id": "after"})], hashKey="0" * 32)
        after = c.pull_logs(project, "store1", 0, ends[0])
        assert [r["id"] for r in flat(after)] == ["after"]
    finally:
        server.stop()

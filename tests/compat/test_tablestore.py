"""Table Store through the real Python SDK (`tablestore` 6.4.8): tables, rows with conditions,
batches, ranges in both directions with pagination, versions, and error codes.

The endpoint is FCEMU_ENDPOINT when set (a running `fcemu up`), else a server started for
this module: FCEMU_OTS_SERVER_CMD when set (e.g. target/debug/examples/ots_server, which serves
Table Store alone), else `fcemu up --in-memory` from FCEMU_BIN or target/debug/fcemu
(`cargo build -p fcemu`).
"""

import os
import shlex
import threading
import time
import uuid
from pathlib import Path

import pytest
from tablestore import (
    AsyncOTSClient,
    INF_MAX,
    INF_MIN,
    BatchGetRowRequest,
    BatchWriteRowRequest,
    CapacityUnit,
    ComparatorType,
    CompositeColumnCondition,
    Condition,
    DeleteRowItem,
    Direction,
    LogicalOperator,
    OTSClient,
    PK_AUTO_INCR,
    OTSServiceError,
    PutRowItem,
    ReservedThroughput,
    ReturnType,
    Row,
    RowExistenceExpectation,
    SingleColumnCondition,
    TableInBatchGetRowItem,
    TableInBatchWriteRowItem,
    TableMeta,
    TableOptions,
    UpdateRowItem,
)

from serverproc import ServerProcess

REPO = Path(__file__).resolve().parents[2]
AK = "fcemu-test-key"
SK = "fcemu-test-secret"
INSTANCE = "fcemu"
IGNORE = Condition(RowExistenceExpectation.IGNORE)


class OtsServer(ServerProcess):
    """Table Store's server for a test: FCEMU_OTS_SERVER_CMD, or `fcemu up`."""

    def __init__(self, env=None):
        command = os.environ.get("FCEMU_OTS_SERVER_CMD")
        if command:
            command = shlex.split(command)
        else:
            binary = os.environ.get("FCEMU_BIN") or str(
                Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target")) / "debug" / "fcemu"
            )
            if not Path(binary).exists():
                pytest.exit(f"{binary} is missing: run `cargo build -p fcemu`", returncode=2)
            command = [binary, "up", "--listen", "127.0.0.1:0", "--in-memory", "--no-watch"]
        super().__init__(command, env=env, cwd=os.environ.get("TMPDIR", "/tmp"))


@pytest.fixture(scope="module")
def ots_endpoint():
    given = os.environ.get("FCEMU_ENDPOINT")
    if given:
        yield given.rstrip("/")
        return
    server = OtsServer()
    yield server.endpoint
    server.stop()


@pytest.fixture
def start_ots():
    """Starts extra servers with their own environment; stops them after the test."""
    started = []

    def start(env=None):
        s = OtsServer(env)
        started.append(s)
        return s

    yield start
    for s in started:
        s.stop()


@pytest.fixture(scope="module")
def client(ots_endpoint):
    return OTSClient(ots_endpoint, AK, SK, INSTANCE)


@pytest.fixture
def table(client):
    """A fresh table with PK (pk STRING, n INTEGER), 3 versions, deleted afterwards."""
    name = "t_" + uuid.uuid4().hex[:12]
    client.create_table(
        TableMeta(name, [("pk", "STRING"), ("n", "INTEGER")]),
        TableOptions(time_to_live=-1, max_version=3),
        ReservedThroughput(CapacityUnit(0, 0)),
    )
    yield name
    try:
        client.delete_table(name)
    except OTSServiceError:
        pass


def pk(key, n=1):
    return [("pk", key), ("n", n)]


def attrs(row):
    """{name: value} of the newest version of each column."""
    out = {}
    for name, value, _ts in row.attribute_columns:
        out.setdefault(name, value)
    return out


def service_error(fn, *args, **kwargs):
    with pytest.raises(OTSServiceError) as e:
        fn(*args, **kwargs)
    return e.value


# ---------------------------------------------------------------------------------------------
# tables


def test_table_lifecycle(client):
    name = "life_" + uuid.uuid4().hex[:8]
    client.create_table(
        TableMeta(name, [("id", "STRING"), ("seq", "INTEGER", PK_AUTO_INCR), ("b", "BINARY")]),
        TableOptions(time_to_live=86400, max_version=2, max_time_deviation=3600),
        ReservedThroughput(CapacityUnit(1, 2)),
    )
    assert name in client.list_table()

    d = client.describe_table(name)
    assert d.table_meta.table_name == name
    assert d.table_meta.schema_of_primary_key == [
        ("id", "STRING"),
        ("seq", "INTEGER", PK_AUTO_INCR),
        ("b", "BINARY"),
    ]
    assert d.table_options.time_to_live == 86400
    assert d.table_options.max_version == 2
    assert d.table_options.max_time_deviation == 3600
    assert d.reserved_throughput_details.capacity_unit.read == 1
    assert d.reserved_throughput_details.capacity_unit.write == 2

    r = client.update_table(name, TableOptions(time_to_live=-1, max_version=5), None)
    assert r.table_options.max_version == 5
    assert r.table_options.time_to_live == -1
    d = client.describe_table(name)
    assert d.table_options.max_version == 5

    e = service_error(
        client.create_table,
        TableMeta(name, [("id", "STRING")]),
        TableOptions(),
        ReservedThroughput(CapacityUnit(0, 0)),
    )
    assert (e.get_http_status(), e.get_error_code()) == (409, "OTSObjectAlreadyExist")

    client.delete_table(name)
    assert name not in client.list_table()
    e = service_error(client.describe_table, name)
    assert (e.get_http_status(), e.get_error_code()) == (404, "OTSObjectNotExist")
    e = service_error(client.delete_table, name)
    assert e.get_error_code() == "OTSObjectNotExist"


def test_create_table_rejects_bad_schemas(client):
    e = service_error(
        client.create_table,
        TableMeta("dup_" + uuid.uuid4().hex[:8], [("a", "STRING"), ("a", "INTEGER")]),
        TableOptions(),
        ReservedThroughput(CapacityUnit(0, 0)),
    )
    assert (e.get_http_status(), e.get_error_code()) == (400, "OTSParameterInvalid")
    assert "Duplicated primary key name" in e.get_error_message()

    e = service_error(
        client.create_table,
        TableMeta("first_auto_" + uuid.uuid4().hex[:4], [("a", "INTEGER", PK_AUTO_INCR)]),
        TableOptions(),
        ReservedThroughput(CapacityUnit(0, 0)),
    )
    assert e.get_error_code() == "OTSParameterInvalid"

    e = service_error(
        client.create_table,
        TableMeta("9bad", [("a", "STRING")]),
        TableOptions(),
        ReservedThroughput(CapacityUnit(0, 0)),
    )
    assert e.get_error_code() == "OTSParameterInvalid"


def test_secondary_indexes_are_refused_not_dropped(client):
    from tablestore import SecondaryIndexMeta

    name = "with_index_" + uuid.uuid4().hex[:6]
    meta = TableMeta(name, [("id", "STRING")], [("owner", "STRING")])
    e = service_error(
        client.create_table,
        meta,
        TableOptions(),
        ReservedThroughput(CapacityUnit(0, 0)),
        [SecondaryIndexMeta("by_owner", ["owner"], [])],
    )
    assert (e.get_http_status(), e.get_error_code()) == (400, "OTSUnsupportOperation")
    assert "by_owner" in e.get_error_message()
    assert name not in client.list_table()


def test_instances_are_separate(client, ots_endpoint, table):
    other = OTSClient(ots_endpoint, AK, SK, "other")
    assert table not in other.list_table()
    e = service_error(other.get_row, table, pk("a"), max_version=1)
    assert e.get_error_code() == "OTSObjectNotExist"


# ---------------------------------------------------------------------------------------------
# single rows


def test_put_get_all_value_types(client, table):
    consumed, ret = client.put_row(
        table,
        Row(pk("a"), [("i", 42), ("s", "héllo"), ("d", 1.5), ("b", True), ("bin", bytearray(b"\x00\xff"))]),
    )
    assert ret is None
    assert consumed.write >= 1

    consumed, row, _ = client.get_row(table, pk("a"), max_version=1)
    assert row.primary_key == pk("a")
    assert attrs(row) == {"i": 42, "s": "héllo", "d": 1.5, "b": True, "bin": bytearray(b"\x00\xff")}
    # Columns come back sorted by name, each with a server timestamp in ms.
    assert [c[0] for c in row.attribute_columns] == ["b", "bin", "d", "i", "s"]
    now_ms = int(time.time() * 1000)
    assert all(abs(c[2] - now_ms) < 60_000 for c in row.attribute_columns)

    _, row, _ = client.get_row(table, pk("a"), columns_to_get=["s", "missing"], max_version=1)
    assert row.primary_key == pk("a")
    assert attrs(row) == {"s": "héllo"}

    _, row, _ = client.get_row(table, pk("nope"), max_version=1)
    assert row is None

    _, row, _ = client.get_row(table, pk("a"), columns_to_get=["missing"], max_version=1)
    assert row is None


def test_put_replaces_the_whole_row(client, table):
    client.put_row(table, Row(pk("a"), [("x", 1), ("y", 2)]))
    client.put_row(table, Row(pk("a"), [("z", 3)]))
    _, row, _ = client.get_row(table, pk("a"), max_version=3)
    assert attrs(row) == {"z": 3}


def test_row_existence_conditions(client, table):
    e = service_error(
        client.put_row, table, Row(pk("a"), [("x", 1)]), Condition(RowExistenceExpectation.EXPECT_EXIST)
    )
    assert (e.get_http_status(), e.get_error_code()) == (403, "OTSConditionCheckFail")
    assert e.get_error_message() == "Condition check failed."

    client.put_row(table, Row(pk("a"), [("x", 1)]), Condition(RowExistenceExpectation.EXPECT_NOT_EXIST))
    e = service_error(
        client.put_row, table, Row(pk("a"), [("x", 2)]), Condition(RowExistenceExpectation.EXPECT_NOT_EXIST)
    )
    assert e.get_error_code() == "OTSConditionCheckFail"
    _, row, _ = client.get_row(table, pk("a"), max_version=1)
    assert attrs(row) == {"x": 1}

    client.put_row(table, Row(pk("a"), [("x", 3)]), Condition(RowExistenceExpectation.EXPECT_EXIST))
    _, row, _ = client.get_row(table, pk("a"), max_version=1)
    assert attrs(row) == {"x": 3}

    e = service_error(client.delete_row, table, Row(pk("b")), Condition(RowExistenceExpectation.EXPECT_EXIST))
    assert e.get_error_code() == "OTSConditionCheckFail"
    client.delete_row(table, Row(pk("b")), Condition(RowExistenceExpectation.IGNORE))
    client.delete_row(table, Row(pk("a")), Condition(RowExistenceExpectation.EXPECT_EXIST))
    _, row, _ = client.get_row(table, pk("a"), max_version=1)
    assert row is None


def test_column_conditions(client, table):
    client.put_row(table, Row(pk("a"), [("n2", 10), ("s", "x")]))
    gt5 = SingleColumnCondition("n2", 5, ComparatorType.GREATER_THAN)
    client.put_row(table, Row(pk("a"), [("n2", 11), ("s", "x")]), Condition(RowExistenceExpectation.EXPECT_EXIST, gt5))
    lt5 = SingleColumnCondition("n2", 5, ComparatorType.LESS_THAN)
    e = service_error(client.update_row, table, Row(pk("a"), {"put": [("n2", 0)]}), Condition(RowExistenceExpectation.IGNORE, lt5))
    assert e.get_error_code() == "OTSConditionCheckFail"

    both = CompositeColumnCondition(LogicalOperator.OR)
    both.add_sub_condition(lt5)
    both.add_sub_condition(SingleColumnCondition("s", "x", ComparatorType.EQUAL))
    client.update_row(table, Row(pk("a"), {"put": [("n2", 1)]}), Condition(RowExistenceExpectation.IGNORE, both))
    _, row, _ = client.get_row(table, pk("a"), max_version=1)
    assert attrs(row)["n2"] == 1

    # A missing column passes unless pass_if_missing=False.
    missing = SingleColumnCondition("nothere", 1, ComparatorType.EQUAL, pass_if_missing=False)
    e = service_error(client.put_row, table, Row(pk("a"), [("q", 1)]), Condition(RowExistenceExpectation.IGNORE, missing))
    assert e.get_error_code() == "OTSConditionCheckFail"
    client.put_row(
        table,
        Row(pk("a"), [("q", 1)]),
        Condition(RowExistenceExpectation.IGNORE, SingleColumnCondition("nothere", 1, ComparatorType.EQUAL)),
    )


def test_read_filter(client, table):
    client.put_row(table, Row(pk("a"), [("v", 1)]))
    client.put_row(table, Row(pk("b"), [("v", 9)]))
    big = SingleColumnCondition("v", 5, ComparatorType.GREATER_THAN)
    _, row, _ = client.get_row(table, pk("a"), max_version=1, column_filter=big)
    assert row is None
    _, row, _ = client.get_row(table, pk("b"), max_version=1, column_filter=big)
    assert attrs(row) == {"v": 9}
    _, _, rows, _ = client.get_range(table, Direction.FORWARD, pk(INF_MIN, INF_MIN), pk(INF_MAX, INF_MAX), max_version=1, column_filter=big)
    assert [r.primary_key for r in rows] == [pk("b")]


def test_update_row_operations(client, table):
    now = int(time.time() * 1000)
    client.put_row(table, Row(pk("a"), [("keep", "k"), ("gone", 1), ("v", "old", now - 2000)]))
    client.update_row(
        table,
        Row(
            pk("a"),
            {
                "put": [("v", "new", now - 1000), ("added", 5)],
                "delete_all": ["gone"],
                "increment": [("counter", 3)],
            },
        ),
        Condition(RowExistenceExpectation.EXPECT_EXIST),
    )
    _, row, _ = client.get_row(table, pk("a"), max_version=3)
    versions = [(c[0], c[1], c[2]) for c in row.attribute_columns if c[0] == "v"]
    assert versions == [("v", "new", now - 1000), ("v", "old", now - 2000)]
    assert attrs(row) == {"added": 5, "counter": 3, "keep": "k", "v": "new"}

    client.update_row(
        table, Row(pk("a"), {"increment": [("counter", -1)], "delete": [("v", None, now - 1000)]}), IGNORE
    )
    _, row, _ = client.get_row(table, pk("a"), max_version=3)
    assert attrs(row)["counter"] == 2
    assert [(c[1], c[2]) for c in row.attribute_columns if c[0] == "v"] == [("old", now - 2000)]

    # UpdateRow creates a missing row.
    client.update_row(table, Row(pk("fresh"), {"put": [("x", 1)]}), IGNORE)
    _, row, _ = client.get_row(table, pk("fresh"), max_version=1)
    assert attrs(row) == {"x": 1}

    e = service_error(client.update_row, table, Row(pk("a"), {"increment": [("keep", 1)]}), IGNORE)
    assert e.get_error_code() == "OTSParameterInvalid"


def test_multiple_versions_and_time_range(client, table):
    now = int(time.time() * 1000)
    for i in range(5):
        client.update_row(table, Row(pk("a"), {"put": [("v", i, now - 5000 + i * 1000)]}), IGNORE)
    _, row, _ = client.get_row(table, pk("a"), max_version=10)
    # The table keeps 3 versions, newest first.
    assert [(c[1], c[2]) for c in row.attribute_columns] == [
        (4, now - 1000),
        (3, now - 2000),
        (2, now - 3000),
    ]
    _, row, _ = client.get_row(table, pk("a"), max_version=1)
    assert [c[1] for c in row.attribute_columns] == [4]
    _, row, _ = client.get_row(table, pk("a"), time_range=(now - 3000, now - 1500), max_version=10)
    assert [c[1] for c in row.attribute_columns] == [3, 2]
    _, row, _ = client.get_row(table, pk("a"), time_range=now - 2000, max_version=10)
    assert [c[1] for c in row.attribute_columns] == [3]

    # Writing the same timestamp overwrites that version.
    client.update_row(table, Row(pk("a"), {"put": [("v", 99, now - 1000)]}), IGNORE)
    _, row, _ = client.get_row(table, pk("a"), max_version=1)
    assert [(c[1], c[2]) for c in row.attribute_columns] == [(99, now - 1000)]


def test_auto_increment_and_return_pk(client):
    name = "auto_" + uuid.uuid4().hex[:8]
    client.create_table(
        TableMeta(name, [("p", "STRING"), ("id", "INTEGER", PK_AUTO_INCR)]),
        TableOptions(),
        ReservedThroughput(CapacityUnit(0, 0)),
    )
    try:
        ids = []
        for _ in range(3):
            _, ret = client.put_row(
                name, Row([("p", "x"), ("id", PK_AUTO_INCR)], [("v", 1)]), return_type=ReturnType.RT_PK
            )
            assert ret.primary_key[0] == ("p", "x")
            ids.append(ret.primary_key[1][1])
        assert ids == sorted(ids) and len(set(ids)) == 3
        _, row, _ = client.get_row(name, [("p", "x"), ("id", ids[1])], max_version=1)
        assert attrs(row) == {"v": 1}
    finally:
        client.delete_table(name)


def test_primary_key_errors(client, table):
    e = service_error(client.get_row, table, [("pk", "a")], max_version=1)
    assert (e.get_http_status(), e.get_error_code()) == (400, "OTSInvalidPK")
    assert e.get_error_message() == "Validate PK size fail. Input: 1, Meta: 2."
    e = service_error(client.get_row, table, [("pk", "a"), ("m", 1)], max_version=1)
    assert e.get_error_message() == "Validate PK name fail. Input: m, Meta: n."
    e = service_error(client.put_row, table, Row([("pk", 1), ("n", 1)], [("x", 1)]))
    assert e.get_error_code() == "OTSInvalidPK"
    e = service_error(client.get_row, "no_such_table", pk("a"), max_version=1)
    assert (e.get_http_status(), e.get_error_code()) == (404, "OTSObjectNotExist")
    assert e.get_error_message() == "Requested table does not exist."
    e = service_error(client.put_row, "no_such_table", Row(pk("a"), [("x", 1)]))
    assert e.get_error_code() == "OTSObjectNotExist"


# ---------------------------------------------------------------------------------------------
# batches


def test_batch_write_and_get(client, table):
    client.put_row(table, Row(pk("exists"), [("x", 0)]))
    req = BatchWriteRowRequest()
    req.add(
        TableInBatchWriteRowItem(
            table,
            [
                PutRowItem(Row(pk("p1"), [("x", 1)]), Condition(RowExistenceExpectation.IGNORE)),
                PutRowItem(Row(pk("exists"), [("x", 9)]), Condition(RowExistenceExpectation.EXPECT_NOT_EXIST)),
                UpdateRowItem(Row(pk("exists"), {"put": [("y", 2)]}), Condition(RowExistenceExpectation.EXPECT_EXIST)),
                DeleteRowItem(Row(pk("p1")), Condition(RowExistenceExpectation.IGNORE)),
                PutRowItem(Row(pk("p2"), [("x", 2)]), Condition(RowExistenceExpectation.IGNORE), return_type=ReturnType.RT_PK),
            ],
        )
    )
    req.add(TableInBatchWriteRowItem("no_such_table", [PutRowItem(Row(pk("a"), [("x", 1)]), Condition(RowExistenceExpectation.IGNORE))]))
    res = client.batch_write_row(req)
    assert not res.is_all_succeed()
    puts_ok, puts_failed = res.get_put()
    assert [i.is_ok for i in puts_ok] == [True, True]
    assert puts_ok[1].row.primary_key == pk("p2")
    assert sorted(i.error_code for i in puts_failed) == ["OTSConditionCheckFail", "OTSObjectNotExist"]
    updates_ok, updates_failed = res.get_update()
    assert len(updates_ok) == 1 and not updates_failed
    deletes_ok, _ = res.get_delete()
    assert len(deletes_ok) == 1

    get = BatchGetRowRequest()
    get.add(TableInBatchGetRowItem(table, [pk("exists"), pk("p1"), pk("p2")], max_version=1))
    get.add(TableInBatchGetRowItem("no_such_table", [pk("a")], max_version=1))
    res = client.batch_get_row(get)
    rows = res.get_result_by_table(table)
    assert [r.is_ok for r in rows] == [True, True, True]
    assert attrs(rows[0].row) == {"x": 0, "y": 2}
    assert rows[1].row is None
    assert attrs(rows[2].row) == {"x": 2}
    missing = res.get_result_by_table("no_such_table")
    assert [(r.is_ok, r.error_code) for r in missing] == [(False, "OTSObjectNotExist")]


def test_batch_errors(client, table):
    e = service_error(client.batch_write_row, BatchWriteRowRequest())
    assert (e.get_http_status(), e.get_error_code()) == (400, "OTSParameterInvalid")
    e = service_error(client.batch_get_row, BatchGetRowRequest())
    assert e.get_error_code() == "OTSParameterInvalid"
    # A table item without rows gets an empty result for it, not an error.
    get = BatchGetRowRequest()
    get.add(TableInBatchGetRowItem(table, [], max_version=1))
    res = client.batch_get_row(get)
    assert res.get_result_by_table(table) == []


# ---------------------------------------------------------------------------------------------
# ranges


def fill(client, table, keys):
    req = BatchWriteRowRequest()
    req.add(
        TableInBatchWriteRowItem(
            table, [PutRowItem(Row(pk(k, n), [("v", f"{k}{n}")]), Condition(RowExistenceExpectation.IGNORE)) for k, n in keys]
        )
    )
    assert client.batch_write_row(req).is_all_succeed()


def test_get_range_forward_backward_and_pagination(client, table):
    keys = [(k, n) for k in ["a", "b", "put_row", "putRow"] for n in [-2, 0, 7]]
    fill(client, table, keys)
    expected = sorted(keys, key=lambda kn: (kn[0].encode(), kn[1]))
    assert expected[6][0] == "putRow"  # byte order: 'R' < '_'

    got, start, pages = [], pk(INF_MIN, INF_MIN), 0
    while start is not None:
        _, start, rows, _ = client.get_range(table, Direction.FORWARD, start, pk(INF_MAX, INF_MAX), limit=5, max_version=1)
        got.extend((r.primary_key[0][1], r.primary_key[1][1]) for r in rows)
        pages += 1
    assert got == expected
    assert pages == 3

    _, nxt, rows, _ = client.get_range(table, Direction.BACKWARD, pk(INF_MAX, INF_MAX), pk(INF_MIN, INF_MIN), limit=4, max_version=1)
    assert [(r.primary_key[0][1], r.primary_key[1][1]) for r in rows] == expected[::-1][:4]
    assert nxt == pk(*expected[::-1][4])

    # Mixed bounds: everything with pk == "b".
    _, nxt, rows, _ = client.get_range(table, Direction.FORWARD, pk("b", INF_MIN), pk("b", INF_MAX), max_version=1)
    assert [r.primary_key[1][1] for r in rows] == [-2, 0, 7]
    assert nxt is None
    assert [attrs(r)["v"] for r in rows] == ["b-2", "b0", "b7"]

    # Start inclusive, end exclusive.
    _, _, rows, _ = client.get_range(table, Direction.FORWARD, pk("a", 0), pk("b", 0), max_version=1)
    assert [(r.primary_key[0][1], r.primary_key[1][1]) for r in rows] == [("a", 0), ("a", 7), ("b", -2)]

    counter = CapacityUnit(0, 0)
    all_rows = list(client.xget_range(table, Direction.FORWARD, pk(INF_MIN, INF_MIN), pk(INF_MAX, INF_MAX), counter, max_version=1))
    assert len(all_rows) == len(keys)

    # columns_to_get
    _, _, rows, _ = client.get_range(table, Direction.FORWARD, pk("a", INF_MIN), pk("a", INF_MAX), columns_to_get=["v"], max_version=1)
    assert all(list(attrs(r)) == ["v"] for r in rows)


def test_get_range_errors(client, table):
    e = service_error(client.get_range, table, Direction.FORWARD, pk("b", 0), pk("a", 0), max_version=1)
    assert e.get_error_code() == "OTSParameterInvalid"
    assert e.get_error_message() == "Begin key must less than end key in FORWARD"
    e = service_error(client.get_range, table, Direction.BACKWARD, pk("a", 0), pk("b", 0), max_version=1)
    assert e.get_error_message() == "Begin key must more than end key in BACKWARD"
    e = service_error(client.get_range, "no_such_table", Direction.FORWARD, pk(INF_MIN, INF_MIN), pk(INF_MAX, INF_MAX), max_version=1)
    assert e.get_error_code() == "OTSObjectNotExist"


def test_unknown_secret_gets_a_clear_auth_error(ots_endpoint):
    stranger = OTSClient(ots_endpoint, "someone", "some-unknown-secret", INSTANCE, retry_policy=None)
    with pytest.raises(OTSServiceError) as e:
        stranger.list_table()
    assert (e.value.get_http_status(), e.value.get_error_code()) == (403, "OTSAuthFailed")
    # A secret equal to the AccessKeyId always works.
    same = OTSClient(ots_endpoint, "local", "local", INSTANCE)
    assert isinstance(same.list_table(), tuple)


# ---------------------------------------------------------------------------------------------
# transport variants and less common shapes


def test_v4_signatures_sts_tokens_and_path_prefixes(ots_endpoint, client, table):
    client.put_row(table, Row(pk("a"), [("x", 1)]))
    variants = [
        OTSClient(ots_endpoint, AK, SK, INSTANCE, region="cn-hangzhou"),
        OTSClient(ots_endpoint, AK, SK, INSTANCE, sts_token="token"),
        OTSClient(ots_endpoint + "/some/prefix", AK, SK, INSTANCE),
    ]
    for c in variants:
        assert table in c.list_table()
        _, row, _ = c.get_row(table, pk("a"), max_version=1)
        assert attrs(row) == {"x": 1}
        e = service_error(c.get_row, "no_such_table", pk("a"), max_version=1)
        assert e.get_error_code() == "OTSObjectNotExist"


def test_binary_keys_pk_only_rows_and_return_pk(client):
    name = "bin_" + uuid.uuid4().hex[:8]
    client.create_table(TableMeta(name, [("k", "BINARY")]), TableOptions(), ReservedThroughput(CapacityUnit(0, 0)))
    try:
        client.put_row(name, Row([("k", bytearray(b"\x00a"))], []))
        _, row, _ = client.get_row(name, [("k", bytearray(b"\x00a"))], max_version=1)
        assert row.primary_key == [("k", bytearray(b"\x00a"))]
        assert row.attribute_columns == []

        # Python sends bytes as STRING: a type mismatch with the BINARY key.
        e = service_error(client.put_row, name, Row([("k", b"str")], [("x", 1)]))
        assert (e.get_http_status(), e.get_error_code()) == (400, "OTSInvalidPK")

        _, ret = client.update_row(name, Row([("k", bytearray(b"z"))], {"put": [("x", 1)]}), IGNORE, return_type=ReturnType.RT_PK)
        assert ret.primary_key == [("k", bytearray(b"z"))]
        _, ret = client.delete_row(name, Row([("k", bytearray(b"z"))]), IGNORE, return_type=ReturnType.RT_PK)
        assert ret.primary_key == [("k", bytearray(b"z"))]

        client.put_row(name, Row([("k", bytearray(b"w"))], [("a", 1), ("b", 2), ("c", 3), ("d", 4)]))
        _, row, _ = client.get_row(name, [("k", bytearray(b"w"))], max_version=1, start_column="b", end_column="d")
        assert attrs(row) == {"b": 2, "c": 3}

        # Binary keys sort bytewise: 0x00 first.
        _, _, rows, _ = client.get_range(name, Direction.FORWARD, [("k", INF_MIN)], [("k", INF_MAX)], max_version=1)
        assert [r.primary_key[0][1] for r in rows] == [bytearray(b"\x00a"), bytearray(b"w")]
    finally:
        client.delete_table(name)


def test_ttl_hides_expired_versions_and_deviation_is_enforced(client):
    name = "ttl_" + uuid.uuid4().hex[:8]
    day = 86400
    client.create_table(
        TableMeta(name, [("k", "STRING")]),
        TableOptions(time_to_live=day, max_version=5, max_time_deviation=10 * day),
        ReservedThroughput(CapacityUnit(0, 0)),
    )
    try:
        now = int(time.time() * 1000)
        client.put_row(name, Row([("k", "old")], [("v", 1, now - 2 * day * 1000)]))
        _, row, _ = client.get_row(name, [("k", "old")], max_version=1)
        assert row is None
        e = service_error(client.put_row, name, Row([("k", "old")], [("v", 1, now - 11 * day * 1000)]), IGNORE)
        assert e.get_error_code() == "OTSParameterInvalid"

        client.update_row(name, Row([("k", "mix")], {"put": [("v", "old", now - 2 * day * 1000), ("v", "new", now)]}), IGNORE)
        _, row, _ = client.get_row(name, [("k", "mix")], max_version=5)
        assert [c[1] for c in row.attribute_columns] == ["new"]
    finally:
        client.delete_table(name)


def test_update_table_reserved_throughput(client, table):
    r = client.update_table(table, None, ReservedThroughput(CapacityUnit(7, 8)))
    assert r.reserved_throughput_details.capacity_unit.read == 7
    assert r.reserved_throughput_details.capacity_unit.write == 8
    d = client.describe_table(table)
    assert (d.reserved_throughput_details.capacity_unit.read, d.reserved_throughput_details.capacity_unit.write) == (7, 8)
    assert d.table_options.max_version == 3


def test_get_range_pages_skip_filtered_rows(client, table):
    fill(client, table, [("f", n) for n in range(30)])
    even = SingleColumnCondition("v", "f1", ComparatorType.LESS_THAN)  # only "f0"
    odd_ones = CompositeColumnCondition(LogicalOperator.NOT)
    odd_ones.add_sub_condition(even)
    seen, start = [], pk("f", INF_MIN)
    while start is not None:
        _, start, rows, _ = client.get_range(table, Direction.FORWARD, start, pk("f", INF_MAX), limit=7, max_version=1, column_filter=odd_ones)
        assert len(rows) <= 7
        seen.extend(r.primary_key[1][1] for r in rows)
    assert seen == list(range(1, 30))


def test_async_client(ots_endpoint, table):
    import asyncio

    async def run():
        c = AsyncOTSClient(ots_endpoint, AK, SK, INSTANCE)
        try:
            await c.put_row(table, Row(pk("async"), [("x", 5)]))
            _, row, _ = await c.get_row(table, pk("async"), max_version=1)
            return attrs(row)
        finally:
            await c.close()

    assert asyncio.run(run()) == {"x": 5}


# ---------------------------------------------------------------------------------------------
# strict authentication and durability (own servers)


def test_strict_auth(start_ots):
    server = start_ots({"FCEMU_STRICT_AUTH": "strict-id:strict-secret"})
    good = OTSClient(server.endpoint, "strict-id", "strict-secret", INSTANCE)
    assert good.list_table() == ()
    good_v4 = OTSClient(server.endpoint, "strict-id", "strict-secret", INSTANCE, region="cn-shanghai")
    assert good_v4.list_table() == ()
    for ak, sk in [("strict-id", "wrong"), ("other", "strict-secret"), ("strict-id", "strict-id")]:
        e = service_error(OTSClient(server.endpoint, ak, sk, INSTANCE, retry_policy=None).list_table)
        assert (e.get_http_status(), e.get_error_code()) == (403, "OTSAuthFailed")


def test_kill_9_keeps_every_acknowledged_row(start_ots, tmp_path):
    env = {"FCEMU_DATA_DIR": str(tmp_path / "data")}
    server = start_ots(env)
    c = OTSClient(server.endpoint, AK, SK, INSTANCE)
    c.create_table(TableMeta("crash", [("w", "INTEGER"), ("i", "INTEGER")]), TableOptions(), ReservedThroughput(CapacityUnit(0, 0)))

    acked, lock, enough, stop = {}, threading.Lock(), threading.Event(), threading.Event()

    def writer(n):
        wc = OTSClient(server.endpoint, AK, SK, INSTANCE, retry_policy=None, socket_timeout=5)
        i = 0
        while not stop.is_set():
            try:
                wc.put_row("crash", Row([("w", n), ("i", i)], [("v", f"{n}-{i}" * 50)]))
            except Exception:
                return
            with lock:
                acked[(n, i)] = f"{n}-{i}" * 50
                if len(acked) >= 150:
                    enough.set()
            i += 1

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(3)]
    for t in threads:
        t.start()
    assert enough.wait(60)
    server.kill()
    stop.set()
    for t in threads:
        t.join()

    again = start_ots(env)
    c = OTSClient(again.endpoint, AK, SK, INSTANCE)
    counter = CapacityUnit(0, 0)
    stored = {
        (r.primary_key[0][1], r.primary_key[1][1]): attrs(r)["v"]
        for r in c.xget_range("crash", Direction.FORWARD, [("w", INF_MIN), ("i", INF_MIN)], [("w", INF_MAX), ("i", INF_MAX)], counter, max_version=1)
    }
    missing = [k for k, v in acked.items() if stored.get(k) != v]
    assert not missing, f"{len(missing)} acknowledged rows lost, e.g. {missing[:3]}"


def test_regex_column_conditions(client, table):
    from tablestore import CastType, RegexRule, SingleColumnRegexCondition

    client.put_row(table, Row(pk("a"), [("s", "id=42;rest")]))
    above = SingleColumnRegexCondition("s", ComparatorType.GREATER_THAN, 41, RegexRule(r"id=(\d+)", CastType.VT_INTEGER))
    _, row, _ = client.get_row(table, pk("a"), max_version=1, column_filter=above)
    assert attrs(row) == {"s": "id=42;rest"}
    equal = SingleColumnRegexCondition("s", ComparatorType.EQUAL, "43", RegexRule(r"id=(\d+)", CastType.VT_STRING))
    e = service_error(client.put_row, table, Row(pk("a"), [("s", "x")]), Condition(RowExistenceExpectation.IGNORE, equal))
    assert e.get_error_code() == "OTSConditionCheckFail"


def test_conditional_writes_and_increments_are_atomic(ots_endpoint, table):
    winners, errors = [], []

    def racer(n):
        c = OTSClient(ots_endpoint, AK, SK, INSTANCE)
        try:
            c.put_row(table, Row(pk("race"), [("by", n)]), Condition(RowExistenceExpectation.EXPECT_NOT_EXIST))
            winners.append(n)
        except OTSServiceError as e:
            errors.append(e.get_error_code())
        for _ in range(20):
            c.update_row(table, Row(pk("count"), {"increment": [("n2", 1)]}), IGNORE)

    threads = [threading.Thread(target=racer, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(winners) == 1
    assert errors == ["OTSConditionCheckFail"] * 7
    c = OTSClient(ots_endpoint, AK, SK, INSTANCE)
    _, row, _ = c.get_row(table, pk("race"), max_version=1)
    assert attrs(row) == {"by": winners[0]}
    _, row, _ = c.get_row(table, pk("count"), max_version=1)
    assert attrs(row) == {"n2": 160}

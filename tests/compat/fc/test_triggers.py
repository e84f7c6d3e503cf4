"""Triggers driven by the real OSS SDK: an oss2 upload invokes the function with FC's OSS
event; POST /_fcemu/idle waits for it; the invocation is listed."""

import hashlib
import json

import oss2
import requests


def test_oss2_upload_fires_the_trigger(fcemu):
    bucket = oss2.Bucket(oss2.Auth("test-ak", "test-secret"), fcemu.services, "uploads")
    body = b"\xff\xd8 not really a jpeg"
    put = bucket.put_object("photos/cat.jpg", body, headers={"Content-Type": "image/jpeg"})
    bucket.put_object("photos/cat.txt", b"ignored")
    fcemu.idle()

    records = requests.get(f"{fcemu.services}/_fcemu/invocations", params={"function": "thumb"}).json()["invocations"]
    assert len(records) == 1, records
    record = records[0]
    assert record["trigger"] == "on-upload"
    assert record["status"] == "success"
    event = json.loads(record["event"])["events"][0]
    assert event["eventName"] == "ObjectCreated:PutObject"
    assert event["eventSource"] == "acs:oss"
    assert event["oss"]["bucket"]["name"] == "uploads"
    obj = event["oss"]["object"]
    assert obj["key"] == "photos/cat.jpg"
    assert obj["size"] == len(body)
    assert obj["eTag"] == hashlib.md5(body).hexdigest().upper() == put.etag
    assert obj["objectMeta"]["mimeType"] == "image/jpeg"
    assert event["responseElements"]["requestId"] == put.request_id
    assert event["eventTime"].endswith(".000Z") or event["eventTime"][-5] == "."


def test_delete_does_not_fire_a_created_trigger(fcemu):
    bucket = oss2.Bucket(oss2.Auth("test-ak", "test-secret"), fcemu.services, "uploads")
    before = len(requests.get(f"{fcemu.services}/_fcemu/invocations", params={"function": "thumb"}).json()["invocations"])
    bucket.delete_object("photos/cat.jpg")
    fcemu.idle()
    after = len(requests.get(f"{fcemu.services}/_fcemu/invocations", params={"function": "thumb"}).json()["invocations"])
    assert after == before


def test_tablestore_writes_fire_the_trigger_with_sync_v1_records(fcemu):
    # The table is declared in the manifest (stream = true), so it exists when fcemu starts.
    from tablestore import Condition, OTSClient, Row, RowExistenceExpectation

    # Table Store clients check the response signature with their secret: the emulator signs
    # with a secret equal to the key id (see fake-services/tablestore/README.md).
    client = OTSClient(fcemu.services, "test-ak", "test-ak", "photos")
    pk = [("id", "cat"), ("n", 1)]
    client.put_row("photos", Row(pk, [("title", "a cat"), ("size", 3)]), Condition(RowExistenceExpectation.IGNORE))
    client.update_row(
        "photos", Row(pk, {"put": [("size", 4)], "delete_all": ["title"]}), Condition(RowExistenceExpectation.EXPECT_EXIST)
    )
    client.delete_row("photos", Row(pk), Condition(RowExistenceExpectation.IGNORE))
    fcemu.idle()

    invocations = requests.get(f"{fcemu.services}/_fcemu/invocations", params={"function": "audit"}).json()["invocations"]
    assert invocations and all(i["status"] == "success" for i in invocations), invocations
    events = [json.loads(i["event"]) for i in invocations]
    assert all(e["Version"] == "Sync-v1" for e in events)
    records = [r for e in sorted(events, key=lambda e: e["Records"][0]["Info"]["Timestamp"]) for r in e["Records"]]
    assert [r["Type"] for r in records] == ["PutRow", "UpdateRow", "DeleteRow"]
    put, update, delete = records
    assert put["PrimaryKey"] == [{"ColumnName": "id", "Value": "cat"}, {"ColumnName": "n", "Value": 1}]
    assert {c["ColumnName"]: c["Value"] for c in put["Columns"]} == {"title": "a cat", "size": 3}
    assert all(c["Type"] == "Put" and isinstance(c["Timestamp"], int) for c in put["Columns"])
    assert [(c["Type"], c["ColumnName"]) for c in update["Columns"]] == [("Put", "size"), ("DeleteAllVersions", "title")]
    assert delete["Columns"] == []
    assert put["Info"]["Timestamp"] <= update["Info"]["Timestamp"] <= delete["Info"]["Timestamp"]


def test_a_trigger_table_created_by_the_sdk_gets_a_stream(fcemu):
    # The Python SDK cannot ask for a stream; a table a trigger reads gets one when created.
    from tablestore import OTSClient, Row, TableMeta, TableOptions, ReservedThroughput, CapacityUnit

    client = OTSClient(fcemu.services, "test-ak", "test-ak", "photos")
    client.create_table(TableMeta("comments", [("id", "STRING")]), TableOptions(), ReservedThroughput(CapacityUnit(0, 0)))
    client.put_row("comments", Row([("id", "c1")], [("text", "nice")]))
    fcemu.idle()
    records = requests.get(
        f"{fcemu.services}/_fcemu/invocations", params={"function": "audit", "trigger": "on-comments"}
    ).json()["invocations"]
    assert len(records) == 1, records
    (record,) = json.loads(records[0]["event"])["Records"]
    assert record["Type"] == "PutRow"
    assert record["PrimaryKey"] == [{"ColumnName": "id", "Value": "c1"}]

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

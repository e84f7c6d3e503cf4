"""Routing is total: a sub-resource fcemu does not serve is refused and touches nothing, and the
bucket-level calls suites make (tagging, live channels, versions) answer as the SDKs expect.
Driven by oss2 and boto3, plus raw requests for the sub-resources no SDK method names."""

import oss2
import pytest
import requests
from botocore.exceptions import ClientError
from oss2.models import Tagging, TaggingRule

from osscompat import AK, SK

UNKNOWN = ["accessmonitor", "httpsConfig", "responseHeader", "policyStatus", "foo", "foo=bar"]


@pytest.fixture
def bucket(endpoint, bucket_name):
    b = oss2.Bucket(oss2.Auth(AK, SK), endpoint, bucket_name)
    b.create_bucket()
    b.put_object("keep.txt", b"precious")
    yield b
    for obj in oss2.ObjectIterator(b):
        b.delete_object(obj.key)
    b.delete_bucket()


def still_there(b):
    assert b.get_bucket_info().name == b.bucket_name
    assert b.get_object("keep.txt").read() == b"precious"


@pytest.mark.parametrize("sub", UNKNOWN)
@pytest.mark.parametrize("method", ["DELETE", "PUT", "GET", "POST"])
def test_unknown_bucket_sub_resource_touches_nothing(endpoint, bucket, method, sub):
    r = requests.request(method, f"{endpoint}/{bucket.bucket_name}?{sub}", data=b"")
    assert r.status_code == 501, r.text
    assert "<Code>NotImplemented</Code>" in r.text
    still_there(bucket)


@pytest.mark.parametrize("sub", ["foo", "accessmonitor", "cors"])
@pytest.mark.parametrize("method", ["DELETE", "PUT", "POST"])
def test_unknown_object_sub_resource_touches_nothing(endpoint, bucket, method, sub):
    url = f"{endpoint}/{bucket.bucket_name}/keep.txt?{sub}"
    r = requests.request(method, url, data=b"overwritten")
    assert r.status_code == 501, r.text
    still_there(bucket)


def test_object_reads_ignore_unknown_valued_parameters(endpoint, bucket):
    r = requests.get(f"{endpoint}/{bucket.bucket_name}/keep.txt?t=12345")
    assert r.status_code == 200 and r.content == b"precious"


def test_part_number_without_upload_id_is_refused(endpoint, bucket):
    r = requests.put(f"{endpoint}/{bucket.bucket_name}/keep.txt?partNumber=1", data=b"x")
    assert r.status_code == 400 and "InvalidArgument" in r.text
    still_there(bucket)


def test_async_process_is_not_implemented(endpoint, bucket):
    r = requests.post(f"{endpoint}/{bucket.bucket_name}/keep.txt?x-oss-async-process", data=b"")
    assert r.status_code == 501


def test_oss2_bucket_tagging(bucket):
    assert bucket.get_bucket_tagging().tag_set.tagging_rule == {}
    rule = TaggingRule()
    rule.add("team", "core")
    rule.add("env", "test")
    bucket.put_bucket_tagging(Tagging(rule))
    assert bucket.get_bucket_tagging().tag_set.tagging_rule == {"team": "core", "env": "test"}
    bucket.delete_bucket_tagging(params={"tagging": "env"})
    assert bucket.get_bucket_tagging().tag_set.tagging_rule == {"team": "core"}
    bucket.delete_bucket_tagging()
    assert bucket.get_bucket_tagging().tag_set.tagging_rule == {}
    still_there(bucket)


def test_oss2_bucket_tagging_limits(bucket):
    rule = TaggingRule()
    for i in range(21):
        rule.add(f"k{i}", "v")
    with pytest.raises(oss2.exceptions.ServerError) as e:
        bucket.put_bucket_tagging(Tagging(rule))
    assert e.value.code == "InvalidTag"


def test_oss2_teardown_calls(bucket):
    channels = bucket.list_live_channel()
    assert channels.channels == [] and not channels.is_truncated
    bucket.put_object("a.txt", b"1")
    versions = bucket.list_object_versions()
    assert sorted(v.key for v in versions.versions) == ["a.txt", "keep.txt"]
    assert {v.versionid for v in versions.versions} == {"null"}
    assert all(v.is_latest for v in versions.versions)
    paged = bucket.list_object_versions(max_keys=1)
    assert paged.is_truncated and paged.next_key_marker == "a.txt"
    rest = bucket.list_object_versions(key_marker=paged.next_key_marker, max_keys=1)
    assert [v.key for v in rest.versions] == ["keep.txt"]


def test_boto3_bucket_tagging(s3, bucket):
    name = bucket.bucket_name
    with pytest.raises(ClientError) as e:
        s3.get_bucket_tagging(Bucket=name)
    assert e.value.response["Error"]["Code"] == "NoSuchTagSet"
    s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": [{"Key": "team", "Value": "core"}]})
    assert s3.get_bucket_tagging(Bucket=name)["TagSet"] == [{"Key": "team", "Value": "core"}]
    s3.delete_bucket_tagging(Bucket=name)
    with pytest.raises(ClientError):
        s3.get_bucket_tagging(Bucket=name)
    s3.head_bucket(Bucket=name)
    still_there(bucket)


def test_boto3_unknown_sub_resources_touch_nothing(s3, bucket):
    name = bucket.bucket_name
    for call in (
        lambda: s3.delete_bucket_lifecycle(Bucket=name),
        lambda: s3.delete_bucket_policy(Bucket=name),
        lambda: s3.delete_bucket_encryption(Bucket=name),
        lambda: s3.delete_bucket_ownership_controls(Bucket=name),
        lambda: s3.delete_public_access_block(Bucket=name),
    ):
        with pytest.raises(ClientError) as e:
            call()
        assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 501
    s3.head_bucket(Bucket=name)
    still_there(bucket)


def test_boto3_list_object_versions(s3, bucket):
    v = s3.list_object_versions(Bucket=bucket.bucket_name)
    assert [(x["Key"], x["VersionId"], x["IsLatest"]) for x in v["Versions"]] == [
        ("keep.txt", "null", True)
    ]

"""Strict authentication: a server started with FCEMU_STRICT_AUTH=<id>:<secret> verifies OSS V1,
OSS V4, S3 SigV4 and SigV2 signatures (header and presigned forms) as the real SDKs make them."""

import base64
import hashlib
import hmac
import json
import time
from datetime import datetime, timedelta, timezone

import boto3
import oss2
import pytest
import requests
from botocore.client import Config
from botocore.exceptions import ClientError

from osscompat import AK, SK, Server


@pytest.fixture(scope="module")
def strict(request):
    server = Server({"FCEMU_STRICT_AUTH": f"{AK}:{SK}"})
    request.addfinalizer(server.stop)
    return server.endpoint


def s3_client(endpoint, secret=SK, version="s3v4"):
    return boto3.client(
        "s3", endpoint_url=endpoint, aws_access_key_id=AK, aws_secret_access_key=secret,
        region_name="us-east-1", config=Config(signature_version=version, retries={"max_attempts": 1}),
    )


@pytest.mark.parametrize("auth", [oss2.Auth(AK, SK), oss2.AuthV4(AK, SK)], ids=["v1", "v4"])
def test_oss2_signatures_are_accepted(strict, auth, bucket_name):
    b = oss2.Bucket(auth, strict, bucket_name, region="cn-hangzhou")
    b.create_bucket()
    b.put_object("dir/a b+c.txt", b"signed", headers={"Content-Type": "text/plain", "x-oss-meta-k": "v"})
    assert b.get_object("dir/a b+c.txt").read() == b"signed"
    assert [o.key for o in oss2.ObjectIterator(b, prefix="dir/")] == ["dir/a b+c.txt"]
    assert [o.key for o in oss2.ObjectIteratorV2(b, prefix="dir/")] == ["dir/a b+c.txt"]
    b.batch_delete_objects(["dir/a b+c.txt"])
    url = b.sign_url("PUT", "p q", 60)
    assert requests.put(url, data=b"presigned").status_code == 200
    assert requests.get(b.sign_url("GET", "p q", 60)).content == b"presigned"
    b.delete_object("p q")
    b.delete_bucket()


def test_oss2_bad_credentials(strict, bucket_name):
    b = oss2.Bucket(oss2.Auth(AK, "wrong"), strict, bucket_name)
    with pytest.raises(oss2.exceptions.SignatureDoesNotMatch) as e:
        b.create_bucket()
    assert e.value.details["StringToSign"].startswith("PUT\n")
    b = oss2.Bucket(oss2.Auth("unknown", SK), strict, bucket_name)
    with pytest.raises(oss2.exceptions.ServerError) as e:
        b.create_bucket()
    assert e.value.status == 403 and e.value.code == "InvalidAccessKeyId"
    b = oss2.Bucket(oss2.AnonymousAuth(), strict, bucket_name)
    with pytest.raises(oss2.exceptions.AccessDenied):
        b.get_object("k")


def test_oss_v4_signing_region_is_checked(strict, bucket_name):
    b = oss2.Bucket(oss2.AuthV4(AK, SK), strict, bucket_name, region="cn-beijing")
    with pytest.raises(oss2.exceptions.ServerError) as e:
        b.create_bucket()
    assert (e.value.status, e.value.code) == (400, "InvalidArgument")
    assert "Invalid signing region" in e.value.message
    r = requests.get(b.sign_url("GET", "k", 60))
    assert r.status_code == 400 and "Invalid signing region" in r.text


def test_expired_presigned_url(strict, bucket_name):
    b = oss2.Bucket(oss2.Auth(AK, SK), strict, bucket_name)
    b.create_bucket()
    url = b.sign_url("GET", "k", -10)
    r = requests.get(url)
    assert r.status_code == 403 and "<Code>AccessDenied</Code>" in r.text
    b.delete_bucket()


@pytest.mark.parametrize("version", ["s3v4", "s3"])
def test_boto3_signatures(strict, bucket_name, version):
    s3 = s3_client(strict, version=version)
    s3.create_bucket(Bucket=bucket_name)
    s3.put_object(Bucket=bucket_name, Key="dir/a b+c", Body=b"x", Metadata={"m": "1"})
    assert s3.get_object(Bucket=bucket_name, Key="dir/a b+c")["Body"].read() == b"x"
    assert s3.list_objects_v2(Bucket=bucket_name, Prefix="dir/")["KeyCount"] == 1
    s3.delete_objects(Bucket=bucket_name, Delete={"Objects": [{"Key": "dir/a b+c"}]})
    url = s3.generate_presigned_url("put_object", Params={"Bucket": bucket_name, "Key": "p"}, ExpiresIn=60)
    assert requests.put(url, data=b"presigned").status_code == 200
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket_name, "Key": "p"}, ExpiresIn=60)
    assert requests.get(url).content == b"presigned"
    s3.delete_object(Bucket=bucket_name, Key="p")
    s3.delete_bucket(Bucket=bucket_name)


def test_boto3_wrong_secret(strict, bucket_name):
    with pytest.raises(ClientError) as e:
        s3_client(strict, secret="nope").create_bucket(Bucket=bucket_name)
    assert e.value.response["Error"]["Code"] == "SignatureDoesNotMatch"


def test_signed_form_upload(strict, bucket_name):
    b = oss2.Bucket(oss2.Auth(AK, SK), strict, bucket_name)
    b.create_bucket()
    policy = {
        "expiration": (datetime.now(timezone.utc) + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        "conditions": [["content-length-range", 0, 1024]],
    }
    p64 = base64.b64encode(json.dumps(policy).encode()).decode()
    sig = base64.b64encode(hmac.new(SK.encode(), p64.encode(), hashlib.sha1).digest()).decode()
    fields = {"key": "form", "OSSAccessKeyId": AK, "policy": p64, "Signature": sig}
    r = requests.post(f"{strict}/{bucket_name}", data=fields, files={"file": ("f", b"ok")})
    assert r.status_code == 204, r.text
    assert b.get_object("form").read() == b"ok"
    fields["Signature"] = "AAAA"
    r = requests.post(f"{strict}/{bucket_name}", data=fields, files={"file": ("f", b"ok")})
    assert r.status_code == 403
    r = requests.post(f"{strict}/{bucket_name}", data={"key": "anon"}, files={"file": ("f", b"x")})
    assert r.status_code == 403
    b.delete_object("form")
    b.delete_bucket()

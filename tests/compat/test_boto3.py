"""boto3 (S3 API, SigV4, default checksum settings) against fcemu's object store."""

import io
import os

import boto3
import pytest
import requests
from botocore.client import Config
from botocore.exceptions import ClientError

from osscompat import AK, SK

PART = 5 * 1024 * 1024


@pytest.fixture
def bucket(s3, bucket_name):
    s3.create_bucket(Bucket=bucket_name)
    yield bucket_name
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket_name):
        for o in page.get("Contents", []):
            s3.delete_object(Bucket=bucket_name, Key=o["Key"])
    for u in s3.list_multipart_uploads(Bucket=bucket_name).get("Uploads", []):
        s3.abort_multipart_upload(Bucket=bucket_name, Key=u["Key"], UploadId=u["UploadId"])
    s3.delete_bucket(Bucket=bucket_name)


def code(e):
    return e.value.response["Error"]["Code"]


def test_buckets(s3, bucket_name):
    s3.create_bucket(Bucket=bucket_name)
    assert bucket_name in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    s3.head_bucket(Bucket=bucket_name)
    assert s3.get_bucket_location(Bucket=bucket_name)["LocationConstraint"] == "oss-cn-hangzhou"
    with pytest.raises(ClientError) as e:
        s3.create_bucket(Bucket=bucket_name)
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409
    s3.delete_bucket(Bucket=bucket_name)
    with pytest.raises(ClientError) as e:
        s3.head_bucket(Bucket=bucket_name)
    assert code(e) == "404"
    with pytest.raises(ClientError) as e:
        s3.delete_bucket(Bucket=bucket_name)
    assert code(e) == "NoSuchBucket"


def test_objects(s3, bucket):
    r = s3.put_object(Bucket=bucket, Key="dir/a b+c.txt", Body=b"hello", ContentType="text/plain", Metadata={"x": "1"})
    assert r["ETag"].strip('"').upper() == "5D41402ABC4B2A76B9719D911017C592"
    g = s3.get_object(Bucket=bucket, Key="dir/a b+c.txt")
    assert g["Body"].read() == b"hello"
    assert g["ContentType"] == "text/plain"
    assert g["Metadata"] == {"x": "1"}
    assert g["ContentLength"] == 5
    h = s3.head_object(Bucket=bucket, Key="dir/a b+c.txt")
    assert h["ContentLength"] == 5 and h["Metadata"] == {"x": "1"}
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="missing")
    assert code(e) == "NoSuchKey"
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket=bucket, Key="missing")
    assert code(e) == "404"
    s3.delete_object(Bucket=bucket, Key="dir/a b+c.txt")
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


def test_upload_fileobj_and_download(s3, bucket):
    data = os.urandom(2 * 1024 * 1024)
    s3.upload_fileobj(io.BytesIO(data), bucket, "f.bin")
    out = io.BytesIO()
    s3.download_fileobj(bucket, "f.bin", out)
    assert out.getvalue() == data


def test_ranges_and_conditions(s3, bucket):
    s3.put_object(Bucket=bucket, Key="r", Body=b"0123456789")
    g = s3.get_object(Bucket=bucket, Key="r", Range="bytes=2-4")
    assert g["Body"].read() == b"234" and g["ContentRange"] == "bytes 2-4/10"
    assert s3.get_object(Bucket=bucket, Key="r", Range="bytes=8-100")["Body"].read() == b"89"
    assert s3.get_object(Bucket=bucket, Key="r", Range="bytes=-3")["Body"].read() == b"789"
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="r", Range="bytes=20-30")
    assert code(e) == "InvalidRange"
    etag = s3.head_object(Bucket=bucket, Key="r")["ETag"]
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="r", IfMatch='"nope"')
    assert code(e) == "PreconditionFailed"
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="r", IfNoneMatch=etag)
    assert code(e) == "304"


def test_listing(s3, bucket):
    keys = ["a", "b/1", "b/2", "b/c/3", "c d+e", "é"]
    for k in keys:
        s3.put_object(Bucket=bucket, Key=k, Body=k.encode())
    r = s3.list_objects_v2(Bucket=bucket, Delimiter="/")
    assert [o["Key"] for o in r["Contents"]] == ["a", "c d+e", "é"]
    assert [p["Prefix"] for p in r["CommonPrefixes"]] == ["b/"]
    r = s3.list_objects_v2(Bucket=bucket, Prefix="b/", Delimiter="/")
    assert [o["Key"] for o in r["Contents"]] == ["b/1", "b/2"]
    got = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, PaginationConfig={"PageSize": 2}):
        got += [o["Key"] for o in page.get("Contents", [])]
    assert got == sorted(keys, key=lambda k: k.encode())
    got = []
    for page in s3.get_paginator("list_objects").paginate(Bucket=bucket, PaginationConfig={"PageSize": 2}):
        got += [o["Key"] for o in page.get("Contents", [])]
    assert got == sorted(keys, key=lambda k: k.encode())
    r = s3.list_objects_v2(Bucket=bucket, StartAfter="b/c/3")
    assert [o["Key"] for o in r["Contents"]] == ["c d+e", "é"]


def test_delete_objects(s3, bucket):
    for k in ["x", "y", "z&w"]:
        s3.put_object(Bucket=bucket, Key=k, Body=b"1")
    r = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "x"}, {"Key": "z&w"}, {"Key": "ghost"}]})
    assert sorted(d["Key"] for d in r["Deleted"]) == ["ghost", "x", "z&w"]
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["y"]


def test_copy(s3, bucket):
    s3.put_object(Bucket=bucket, Key="src dir/s", Body=b"data", Metadata={"a": "1"}, ContentType="text/plain")
    r = s3.copy_object(Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "src dir/s"})
    assert r["CopyObjectResult"]["ETag"]
    assert s3.head_object(Bucket=bucket, Key="dst")["Metadata"] == {"a": "1"}
    s3.copy_object(
        Bucket=bucket, Key="dst2", CopySource=f"{bucket}/src dir/s", MetadataDirective="REPLACE", Metadata={"b": "2"}
    )
    h = s3.head_object(Bucket=bucket, Key="dst2")
    assert h["Metadata"] == {"b": "2"}
    assert s3.get_object(Bucket=bucket, Key="dst2")["Body"].read() == b"data"


def test_multipart(s3, bucket):
    key = "mp.bin"
    parts = [os.urandom(PART), os.urandom(1024)]
    up = s3.create_multipart_upload(Bucket=bucket, Key=key, ContentType="application/x-mp")
    uid = up["UploadId"]
    assert [u["UploadId"] for u in s3.list_multipart_uploads(Bucket=bucket)["Uploads"]] == [uid]
    done = []
    for i, d in enumerate(parts, start=1):
        r = s3.upload_part(Bucket=bucket, Key=key, UploadId=uid, PartNumber=i, Body=d)
        done.append({"PartNumber": i, "ETag": r["ETag"]})
    lp = s3.list_parts(Bucket=bucket, Key=key, UploadId=uid)
    assert [p["Size"] for p in lp["Parts"]] == [PART, 1024]
    r = s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=uid, MultipartUpload={"Parts": done})
    assert r["ETag"].strip('"').endswith("-2")
    g = s3.get_object(Bucket=bucket, Key=key)
    assert g["Body"].read() == b"".join(parts)
    assert g["ContentType"] == "application/x-mp"
    with pytest.raises(ClientError) as e:
        s3.upload_part(Bucket=bucket, Key=key, UploadId=uid, PartNumber=1, Body=b"x")
    assert code(e) == "NoSuchUpload"


def test_upload_part_copy_and_abort(s3, bucket):
    src = os.urandom(2 * PART)
    s3.put_object(Bucket=bucket, Key="src", Body=src)
    uid = s3.create_multipart_upload(Bucket=bucket, Key="dst")["UploadId"]
    r1 = s3.upload_part_copy(
        Bucket=bucket, Key="dst", UploadId=uid, PartNumber=1, CopySource={"Bucket": bucket, "Key": "src"},
        CopySourceRange=f"bytes=0-{PART - 1}",
    )
    r2 = s3.upload_part_copy(
        Bucket=bucket, Key="dst", UploadId=uid, PartNumber=2, CopySource={"Bucket": bucket, "Key": "src"},
        CopySourceRange=f"bytes={PART}-{2 * PART - 1}",
    )
    s3.complete_multipart_upload(
        Bucket=bucket, Key="dst", UploadId=uid,
        MultipartUpload={"Parts": [
            {"PartNumber": 1, "ETag": r1["CopyPartResult"]["ETag"]},
            {"PartNumber": 2, "ETag": r2["CopyPartResult"]["ETag"]},
        ]},
    )
    assert s3.get_object(Bucket=bucket, Key="dst")["Body"].read() == src
    uid = s3.create_multipart_upload(Bucket=bucket, Key="gone")["UploadId"]
    s3.abort_multipart_upload(Bucket=bucket, Key="gone", UploadId=uid)
    with pytest.raises(ClientError) as e:
        s3.list_parts(Bucket=bucket, Key="gone", UploadId=uid)
    assert code(e) == "NoSuchUpload"


def test_upload_file_multipart_transfer(s3, bucket, tmp_path):
    data = os.urandom(9 * 1024 * 1024)
    p = tmp_path / "t.bin"
    p.write_bytes(data)
    s3.upload_file(str(p), bucket, "t.bin")  # s3transfer: multipart at 8 MB
    assert s3.head_object(Bucket=bucket, Key="t.bin")["ContentLength"] == len(data)
    out = tmp_path / "o.bin"
    s3.download_file(bucket, "t.bin", str(out))
    assert out.read_bytes() == data


def test_tagging(s3, bucket):
    s3.put_object(Bucket=bucket, Key="t", Body=b"x", Tagging="a=1&b=2")
    tags = {t["Key"]: t["Value"] for t in s3.get_object_tagging(Bucket=bucket, Key="t")["TagSet"]}
    assert tags == {"a": "1", "b": "2"}
    s3.put_object_tagging(Bucket=bucket, Key="t", Tagging={"TagSet": [{"Key": "k", "Value": "v"}]})
    assert s3.get_object_tagging(Bucket=bucket, Key="t")["TagSet"] == [{"Key": "k", "Value": "v"}]
    s3.delete_object_tagging(Bucket=bucket, Key="t")
    assert s3.get_object_tagging(Bucket=bucket, Key="t")["TagSet"] == []


def test_presigned(s3, bucket):
    s3.put_object(Bucket=bucket, Key="p", Body=b"presigned")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "p"}, ExpiresIn=60)
    assert "X-Amz-Signature" in url
    assert requests.get(url).content == b"presigned"
    url = s3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "q"}, ExpiresIn=60)
    assert requests.put(url, data=b"put via url").status_code == 200
    assert s3.get_object(Bucket=bucket, Key="q")["Body"].read() == b"put via url"
    v2 = boto3.client(
        "s3", endpoint_url=s3.meta.endpoint_url, aws_access_key_id=AK, aws_secret_access_key=SK,
        region_name="us-east-1", config=Config(signature_version="s3"),
    )
    url = v2.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "p"}, ExpiresIn=60)
    assert requests.get(url).content == b"presigned"


def test_aws_chunked_body(endpoint, bucket):
    """What boto3 sends over HTTPS: aws-chunked framing with a trailing checksum."""
    body = b"5\r\nhello\r\n0\r\nx-amz-checksum-crc32:NhCmhg==\r\n\r\n"
    r = requests.put(
        f"{endpoint}/{bucket}/chunked",
        data=body,
        headers={
            "Content-Encoding": "aws-chunked",
            "X-Amz-Content-SHA256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
            "X-Amz-Decoded-Content-Length": "5",
            "X-Amz-Trailer": "x-amz-checksum-crc32",
        },
    )
    assert r.status_code == 200, r.text
    g = requests.get(f"{endpoint}/{bucket}/chunked")
    assert g.content == b"hello"
    assert "aws-chunked" not in g.headers.get("Content-Encoding", "")


def test_s3_errors_are_s3_shaped(s3, bucket):
    import base64
    import hashlib

    wrong = base64.b64encode(hashlib.md5(b"x").digest()).decode()
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="k", Body=b"y", ContentMD5=wrong)
    assert code(e) == "BadDigest"
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket="no-such-bucket-x", Key="k")
    assert code(e) == "NoSuchBucket"


def test_virtual_addressing_through_http_proxy(endpoint, bucket):
    """boto3 with addressing_style=virtual sends Host: <bucket>.127.0.0.1:PORT; through the
    emulator as HTTP proxy it reaches the bucket."""
    host = endpoint.split("//", 1)[1]
    s3v = boto3.client(
        "s3", endpoint_url=f"http://{host}", aws_access_key_id=AK, aws_secret_access_key=SK,
        region_name="us-east-1",
        config=Config(s3={"addressing_style": "virtual"}, proxies={"http": endpoint}),
    )
    s3v.put_object(Bucket=bucket, Key="v/k", Body=b"virtual")
    assert s3v.get_object(Bucket=bucket, Key="v/k")["Body"].read() == b"virtual"
    assert [o["Key"] for o in s3v.list_objects_v2(Bucket=bucket)["Contents"]] == ["v/k"]


def test_checksums_are_verified(endpoint, s3, bucket):
    """A checksum that does not match the body (header or aws-chunked trailer) stores nothing."""
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="bad", Body=b"hello", ChecksumCRC32="AAAAAA==")
    assert code(e) == "BadDigest"
    r = requests.put(
        f"{endpoint}/{bucket}/bad",
        data=b"5\r\nhello\r\n0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n",
        headers={
            "Content-Encoding": "aws-chunked",
            "X-Amz-Content-SHA256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
            "X-Amz-Trailer": "x-amz-checksum-crc32",
        },
    )
    assert r.status_code == 400 and "<Code>BadDigest</Code>" in r.text
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="good", Body=b"hello", ChecksumAlgorithm="SHA256")
    assert s3.get_object(Bucket=bucket, Key="good")["Body"].read() == b"hello"


def test_an_early_error_to_an_expect_continue_request_leaves_the_connection_clean(endpoint, bucket):
    """botocore sends UploadPart with `Expect: 100-continue` and, when the answer is slow, the
    body anyway; after an early error the connection is closed, so those bytes are never read
    as the next request."""
    import socket
    from urllib.parse import urlparse

    u = urlparse(endpoint)
    with socket.create_connection((u.hostname, u.port)) as sock:
        sock.sendall(
            f"PUT /{bucket}/k?partNumber=1&uploadId=nope HTTP/1.1\r\nHost: {u.netloc}\r\n"
            "Expect: 100-continue\r\nContent-Length: 1\r\nx-amz-content-sha256: UNSIGNED-PAYLOAD\r\n\r\n".encode()
        )
        reply = sock.recv(65536).decode()
        assert " 404 " in reply.split("\r\n")[0] and "connection: close" in reply.lower()
        sock.sendall(f"xGET /{bucket} HTTP/1.1\r\nHost: {u.netloc}\r\n\r\n".encode())
        rest = sock.recv(65536)
        assert rest == b"" or b"MethodNotAllowed" not in rest

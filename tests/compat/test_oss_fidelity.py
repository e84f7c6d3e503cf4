"""What the SDKs' own users hit, checked with oss2 and boto3: re-creating a bucket you own, the
bucket's storage class on new objects, the bucket documents' fields, endpoints that keep a
client on the emulator, conditional GETs on the S3 face and listing details."""

from datetime import datetime, timezone
from urllib.parse import urlparse

import oss2
import pytest
import requests
from botocore.exceptions import ClientError

from osscompat import AK, SK


@pytest.fixture
def bucket(endpoint, bucket_name):
    b = oss2.Bucket(oss2.Auth(AK, SK), endpoint, bucket_name)
    yield b
    try:
        for obj in oss2.ObjectIterator(b):
            b.delete_object(obj.key)
        b.delete_bucket()
    except oss2.exceptions.NoSuchBucket:
        pass


def test_re_creating_a_bucket_you_own_succeeds(bucket):
    bucket.create_bucket()
    bucket.put_object("keep", b"x")
    assert bucket.create_bucket().status == 200
    assert bucket.get_object("keep").read() == b"x"


def test_new_objects_get_the_bucket_storage_class(bucket):
    bucket.create_bucket(input=oss2.models.BucketCreateConfig(oss2.BUCKET_STORAGE_CLASS_IA))
    assert bucket.get_bucket_info().storage_class == "IA"
    bucket.put_object("a", b"x")
    assert bucket.head_object("a").headers["x-oss-storage-class"] == "IA"
    bucket.put_object("b", b"x", headers={"x-oss-storage-class": "Archive"})
    assert bucket.head_object("b").headers["x-oss-storage-class"] == "Archive"


def test_bucket_documents_have_every_field_and_fcemus_endpoint(endpoint, bucket):
    bucket.create_bucket()
    bucket.put_object("a", b"xyz")
    host = urlparse(endpoint).netloc
    info = bucket.get_bucket_info()
    assert info.comment == ""
    assert info.resource_group_id
    assert info.extranet_endpoint == host and info.intranet_endpoint == host
    listed = [b for b in oss2.Service(oss2.Auth(AK, SK), endpoint).list_buckets().buckets if b.name == bucket.bucket_name]
    assert listed[0].extranet_endpoint == host and listed[0].resource_group_id
    stat = bucket.get_bucket_stat()
    assert stat.storage_size_in_bytes == 3
    assert stat.last_modified_time > 0


def test_async_process_is_not_implemented(endpoint, bucket):
    bucket.create_bucket()
    bucket.put_object("a.jpg", b"x")
    r = requests.post(f"{endpoint}/{bucket.bucket_name}/a.jpg?x-oss-async-process", data=b"x-oss-async-process=image/resize")
    assert r.status_code == 501, r.text


def test_s3_conditional_get_answers_304_with_its_validators(s3, bucket_name):
    s3.create_bucket(Bucket=bucket_name)
    try:
        put = s3.put_object(Bucket=bucket_name, Key="k", Body=b"hello")
        etag = put["ETag"]
        assert etag == etag.lower()
        with pytest.raises(ClientError) as e:
            s3.get_object(Bucket=bucket_name, Key="k", IfNoneMatch=etag)
        headers = e.value.response["ResponseMetadata"]["HTTPHeaders"]
        assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 304
        assert headers["etag"] == etag
        assert "last-modified" in headers
    finally:
        s3.delete_object(Bucket=bucket_name, Key="k")
        s3.delete_bucket(Bucket=bucket_name)


def test_s3_listing_details(s3, bucket_name):
    s3.create_bucket(Bucket=bucket_name)
    try:
        s3.put_object(Bucket=bucket_name, Key="a", Body=b"1")
        plain = s3.list_objects_v2(Bucket=bucket_name)
        assert "Delimiter" not in plain
        none = s3.list_objects_v2(Bucket=bucket_name, MaxKeys=0)
        assert none["IsTruncated"] is False and none["KeyCount"] == 0
        v1 = s3.list_objects(Bucket=bucket_name, Prefix="a b", EncodingType="url")
        assert v1["Prefix"] == "a b"
    finally:
        s3.delete_object(Bucket=bucket_name, Key="a")
        s3.delete_bucket(Bucket=bucket_name)


@pytest.fixture
def s3_bucket(s3, bucket_name):
    s3.create_bucket(Bucket=bucket_name)
    yield bucket_name
    try:
        for o in s3.list_objects_v2(Bucket=bucket_name).get("Contents", []):
            s3.delete_object(Bucket=bucket_name, Key=o["Key"])
        s3.delete_bucket(Bucket=bucket_name)  # unfinished uploads go with it on S3
    except s3.exceptions.NoSuchBucket:
        pass


def code_of(call):
    with pytest.raises(ClientError) as e:
        call()
    return e.value.response["ResponseMetadata"]["HTTPStatusCode"], e.value.response["Error"]["Code"]


def test_s3_conditional_writes(s3, s3_bucket):
    etag = s3.put_object(Bucket=s3_bucket, Key="k", Body=b"v1")["ETag"]
    assert code_of(lambda: s3.put_object(Bucket=s3_bucket, Key="k", Body=b"v2", IfMatch='"0000"'))[0] == 412
    s3.put_object(Bucket=s3_bucket, Key="k", Body=b"v2", IfMatch=etag)
    assert code_of(lambda: s3.put_object(Bucket=s3_bucket, Key="k", Body=b"v3", IfNoneMatch="*"))[0] == 412
    assert s3.get_object(Bucket=s3_bucket, Key="k")["Body"].read() == b"v2"


def test_s3_copy_rules(s3, s3_bucket):
    etag = s3.put_object(Bucket=s3_bucket, Key="src", Body=b"abc")["ETag"]
    src = {"Bucket": s3_bucket, "Key": "src"}
    assert code_of(lambda: s3.copy_object(Bucket=s3_bucket, Key="src", CopySource=src)) == (400, "InvalidRequest")
    s3.copy_object(Bucket=s3_bucket, Key="src", CopySource=src, MetadataDirective="REPLACE", Metadata={"a": "b"})
    etag = s3.head_object(Bucket=s3_bucket, Key="src")["ETag"]
    assert code_of(lambda: s3.copy_object(Bucket=s3_bucket, Key="dst", CopySource=src, CopySourceIfNoneMatch=etag))[0] == 412
    up = s3.create_multipart_upload(Bucket=s3_bucket, Key="mp")["UploadId"]
    assert code_of(lambda: s3.upload_part_copy(Bucket=s3_bucket, Key="mp", UploadId=up, PartNumber=1,
                                               CopySource=src, CopySourceRange="bytes=0-99"))[0] == 400


def test_s3_delete_bucket_aborts_unfinished_uploads(s3, s3_bucket):
    s3.create_multipart_upload(Bucket=s3_bucket, Key="pending")
    s3.delete_bucket(Bucket=s3_bucket)
    assert code_of(lambda: s3.head_bucket(Bucket=s3_bucket))[0] == 404


def test_s3_small_things(s3, s3_bucket):
    s3.put_object(Bucket=s3_bucket, Key="t", Body=b"x", Tagging="z=1&a=2&m=3", ContentEncoding="identity, custom")
    tags = s3.get_object_tagging(Bucket=s3_bucket, Key="t")["TagSet"]
    assert [t["Key"] for t in tags] == ["a", "m", "z"]
    assert s3.head_object(Bucket=s3_bucket, Key="t")["ContentEncoding"] == "identity, custom"
    s3.create_multipart_upload(Bucket=s3_bucket, Key="u")
    up = s3.list_multipart_uploads(Bucket=s3_bucket)["Uploads"][0]
    assert up["Initiator"]["ID"] and up["Owner"]["ID"]


def test_s3_complete_twice_answers_200(s3, s3_bucket):
    up = s3.create_multipart_upload(Bucket=s3_bucket, Key="m")["UploadId"]
    part = s3.upload_part(Bucket=s3_bucket, Key="m", UploadId=up, PartNumber=1, Body=b"only part")
    parts = {"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]}
    first = s3.complete_multipart_upload(Bucket=s3_bucket, Key="m", UploadId=up, MultipartUpload=parts)
    again = s3.complete_multipart_upload(Bucket=s3_bucket, Key="m", UploadId=up, MultipartUpload=parts)
    assert again["ETag"] == first["ETag"]


def test_multipart_upload_listing_pages_end(endpoint, bucket):
    """With a delimiter, paging through uploads ends (SDK iterators once looped forever), never
    repeats a common prefix, and several uploads of one key come in upload-id order."""
    bucket.create_bucket()
    ids = sorted(bucket.init_multipart_upload("same").upload_id for _ in range(3))
    for k in ["a/1", "a/2", "b/1", "c"]:
        bucket.init_multipart_upload(k)
    listed = [(u.key, u.upload_id) for u in oss2.MultipartUploadIterator(bucket, max_uploads=1)]
    assert [k for k, _ in listed] == ["a/1", "a/2", "b/1", "c", "same", "same", "same"]
    assert [u for k, u in listed if k == "same"] == ids
    seen, key_marker, id_marker = [], "", ""
    for _ in range(20):
        r = bucket.list_multipart_uploads(delimiter="/", key_marker=key_marker, upload_id_marker=id_marker, max_uploads=1)
        seen += r.prefix_list + [u.key for u in r.upload_list]
        if not r.is_truncated:
            break
        assert r.next_key_marker
        key_marker, id_marker = r.next_key_marker, r.next_upload_id_marker
    else:
        raise AssertionError("the listing never ended")
    assert seen == ["a/", "b/", "c", "same", "same", "same"]
    for up in oss2.MultipartUploadIterator(bucket):
        bucket.abort_multipart_upload(up.key, up.upload_id)


def test_tags_are_checked_as_oss_checks_them(bucket):
    bucket.create_bucket()
    for bad in ["a=b%23c", "k=1&k=2"]:  # '#' is not allowed; a key twice
        with pytest.raises(oss2.exceptions.ServerError) as e:
            bucket.put_object("t", b"x", headers={"x-oss-tagging": bad})
        assert (e.value.status, e.value.code) == (400, "InvalidTag"), bad
    many = "&".join(f"k{i}=v" for i in range(11))
    with pytest.raises(oss2.exceptions.ServerError) as e:
        bucket.append_object("log", 0, b"x", headers={"x-oss-tagging": many})
    assert e.value.code == "InvalidTag"
    bucket.put_object("ok", b"x", headers={"x-oss-tagging": "team=a-b_c.d:e/f@g&note=two words"})
    assert bucket.get_object_tagging("ok").tag_set.tagging_rule == {"team": "a-b_c.d:e/f@g", "note": "two words"}


def test_errors_carry_oss_diagnostic_codes(bucket):
    bucket.create_bucket()
    with pytest.raises(oss2.exceptions.NoSuchKey) as e:
        bucket.get_object("missing")
    assert e.value.ec == "0026-00000001"
    assert e.value.headers["x-oss-ec"] == "0026-00000001"
    bucket.put_object("k", b"x")
    with pytest.raises(oss2.exceptions.ServerError) as e:
        bucket.put_object("k", b"y", headers={"x-oss-forbid-overwrite": "true"})
    assert (e.value.code, e.value.ec) == ("FileAlreadyExists", "0026-00000002")


def test_s3_get_object_attributes(s3, s3_bucket):
    s3.put_object(Bucket=s3_bucket, Key="plain", Body=b"12345")
    got = s3.get_object_attributes(Bucket=s3_bucket, Key="plain", ObjectAttributes=["ETag", "ObjectSize", "StorageClass"])
    assert got["ObjectSize"] == 5 and got["ETag"] == "827ccb0eea8a706c4c34a16891f84e7b"
    assert got["StorageClass"] and "LastModified" in got
    up = s3.create_multipart_upload(Bucket=s3_bucket, Key="mp")["UploadId"]
    etags = [s3.upload_part(Bucket=s3_bucket, Key="mp", UploadId=up, PartNumber=n, Body=b"x" * (5 << 20 if n == 1 else 10))["ETag"] for n in (1, 2)]
    s3.complete_multipart_upload(Bucket=s3_bucket, Key="mp", UploadId=up,
                                 MultipartUpload={"Parts": [{"PartNumber": n + 1, "ETag": e} for n, e in enumerate(etags)]})
    got = s3.get_object_attributes(Bucket=s3_bucket, Key="mp", ObjectAttributes=["ObjectParts"])
    assert got["ObjectParts"]["TotalPartsCount"] == 2
    assert code_of(lambda: s3.get_object_attributes(Bucket=s3_bucket, Key="missing", ObjectAttributes=["ETag"]))[0] == 404


def test_s3_get_part_number_serves_that_part(s3, s3_bucket):
    first, second = b"a" * (5 << 20), b"second part"
    up = s3.create_multipart_upload(Bucket=s3_bucket, Key="mp")["UploadId"]
    etags = [s3.upload_part(Bucket=s3_bucket, Key="mp", UploadId=up, PartNumber=n + 1, Body=b)["ETag"]
             for n, b in enumerate((first, second))]
    done = s3.complete_multipart_upload(Bucket=s3_bucket, Key="mp", UploadId=up,
                                        MultipartUpload={"Parts": [{"PartNumber": n + 1, "ETag": e} for n, e in enumerate(etags)]})
    got = s3.get_object(Bucket=s3_bucket, Key="mp", PartNumber=2)
    assert got["Body"].read() == second and got["PartsCount"] == 2 and got["ETag"] == done["ETag"]
    assert got["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert got["ContentRange"] == f"bytes {len(first)}-{len(first) + len(second) - 1}/{len(first) + len(second)}"
    head = s3.head_object(Bucket=s3_bucket, Key="mp", PartNumber=1)
    assert head["ContentLength"] == len(first) and head["PartsCount"] == 2
    assert code_of(lambda: s3.get_object(Bucket=s3_bucket, Key="mp", PartNumber=3)) == (400, "InvalidPart")
    assert code_of(lambda: s3.get_object(Bucket=s3_bucket, Key="mp", PartNumber=1, Range="bytes=0-1"))[0] == 400
    s3.put_object(Bucket=s3_bucket, Key="plain", Body=b"whole")
    one = s3.get_object(Bucket=s3_bucket, Key="plain", PartNumber=1)
    assert one["Body"].read() == b"whole" and "PartsCount" not in one
    assert code_of(lambda: s3.get_object(Bucket=s3_bucket, Key="plain", PartNumber=2)) == (400, "InvalidPart")


def test_s3_flexible_checksums_are_kept_and_returned(s3, s3_bucket):
    import base64
    import hashlib
    import zlib

    sha = base64.b64encode(hashlib.sha256(b"hello").digest()).decode()
    put = s3.put_object(Bucket=s3_bucket, Key="c", Body=b"hello", ChecksumAlgorithm="SHA256")
    assert put["ChecksumSHA256"] == sha
    head = s3.head_object(Bucket=s3_bucket, Key="c", ChecksumMode="ENABLED")
    assert head["ChecksumSHA256"] == sha and head["ChecksumType"] == "FULL_OBJECT"
    assert "ChecksumSHA256" not in s3.head_object(Bucket=s3_bucket, Key="c")
    got = s3.get_object(Bucket=s3_bucket, Key="c", ChecksumMode="ENABLED")  # botocore checks the body against it
    assert got["Body"].read() == b"hello" and got["ChecksumSHA256"] == sha
    assert "ChecksumSHA256" not in s3.get_object(Bucket=s3_bucket, Key="c", ChecksumMode="ENABLED", Range="bytes=0-1")
    # boto3's default: CRC32 on every upload.
    assert s3.put_object(Bucket=s3_bucket, Key="d", Body=b"hello")["ChecksumCRC32"] == "NhCmhg=="
    attrs = s3.get_object_attributes(Bucket=s3_bucket, Key="d", ObjectAttributes=["Checksum"])
    assert attrs["Checksum"]["ChecksumCRC32"] == "NhCmhg=="
    # A mismatch says which checksum failed.
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=s3_bucket, Key="bad", Body=b"hello", ChecksumSHA256=base64.b64encode(b"\0" * 32).decode())
    assert e.value.response["Error"]["Code"] == "BadDigest" and "SHA256" in e.value.response["Error"]["Message"]

    # Multipart: each part's checksum, then the composite of them.
    bodies = [b"p" * (5 << 20), b"last part"]
    up = s3.create_multipart_upload(Bucket=s3_bucket, Key="mp", ChecksumAlgorithm="CRC32")["UploadId"]
    parts = [s3.upload_part(Bucket=s3_bucket, Key="mp", UploadId=up, PartNumber=n + 1, Body=b, ChecksumAlgorithm="CRC32")
             for n, b in enumerate(bodies)]
    crcs = [zlib.crc32(b).to_bytes(4, "big") for b in bodies]
    assert [p["ChecksumCRC32"] for p in parts] == [base64.b64encode(c).decode() for c in crcs]
    listed = s3.list_parts(Bucket=s3_bucket, Key="mp", UploadId=up)["Parts"]
    assert [p["ChecksumCRC32"] for p in listed] == [p["ChecksumCRC32"] for p in parts]
    done = s3.complete_multipart_upload(
        Bucket=s3_bucket, Key="mp", UploadId=up,
        MultipartUpload={"Parts": [{"PartNumber": n + 1, "ETag": p["ETag"], "ChecksumCRC32": p["ChecksumCRC32"]}
                                   for n, p in enumerate(parts)]})
    composite = base64.b64encode(zlib.crc32(b"".join(crcs)).to_bytes(4, "big")).decode() + "-2"
    assert done["ChecksumCRC32"] == composite and done["ChecksumType"] == "COMPOSITE"
    head = s3.head_object(Bucket=s3_bucket, Key="mp", ChecksumMode="ENABLED")
    assert head["ChecksumCRC32"] == composite and head["ChecksumType"] == "COMPOSITE"
    assert s3.get_object(Bucket=s3_bucket, Key="mp", ChecksumMode="ENABLED")["Body"].read() == b"".join(bodies)


def test_s3_naming_rules_on_the_s3_face_and_osss_on_the_oss_face(endpoint, s3, bucket_name):
    dotted = bucket_name.replace("-", ".", 1)
    s3.create_bucket(Bucket=dotted)
    try:
        s3.put_object(Bucket=dotted, Key="\\leading-backslash", Body=b"s3 allows it")
        assert s3.get_object(Bucket=dotted, Key="\\leading-backslash")["Body"].read() == b"s3 allows it"
        assert [o["Key"] for o in s3.list_objects_v2(Bucket=dotted)["Contents"]] == ["\\leading-backslash"]
        # OSS's rules on the OSS face: no dots in bucket names, no leading backslash in keys.
        oss_face = oss2.Bucket(oss2.Auth(AK, SK), endpoint, bucket_name)
        oss_face.bucket_name = dotted  # oss2 refuses the name itself; send it anyway
        with pytest.raises(oss2.exceptions.ServerError) as e:
            oss_face.get_bucket_info()
        assert e.value.code == "InvalidBucketName"
        s3.create_bucket(Bucket=bucket_name)
        with pytest.raises(oss2.exceptions.ServerError) as e:
            oss2.Bucket(oss2.Auth(AK, SK), endpoint, bucket_name).put_object("\\x", b"no")
        assert e.value.code == "InvalidObjectName"
        s3.delete_bucket(Bucket=bucket_name)
        for bad in ("a..b", "192.168.1.1"):
            assert code_of(lambda: s3.create_bucket(Bucket=bad)) == (400, "InvalidBucketName")
        # A key whose percent-encoding is not UTF-8 is refused, not stored under a mangled name.
        r = requests.put(f"{endpoint}/{dotted}/bad-%FF-key", data=b"x")
        assert r.status_code == 400 and "<Code>InvalidURI</Code>" in r.text
    finally:
        for o in s3.list_objects_v2(Bucket=dotted).get("Contents", []):
            s3.delete_object(Bucket=dotted, Key=o["Key"])
        s3.delete_bucket(Bucket=dotted)


def test_s3_post_object_policies_are_checked_as_s3_checks_them(endpoint, s3, s3_bucket):
    import base64
    import json

    tagging = "<Tagging><TagSet><Tag><Key>k</Key><Value>v</Value></Tag></TagSet></Tagging>"
    post = s3.generate_presigned_post(
        s3_bucket, "uploads/${filename}", Fields={"tagging": tagging},
        Conditions=[["starts-with", "$tagging", ""], ["content-length-range", 1, 100]], ExpiresIn=300)
    url, fields = post["url"], post["fields"]

    def upload(form, body=b"hello", name="a.txt"):
        return requests.post(url, data=form, files={"file": (name, body)})

    r = upload(fields)
    assert r.status_code == 204, r.text
    assert s3.get_object(Bucket=s3_bucket, Key="uploads/a.txt")["Body"].read() == b"hello"
    assert s3.get_object_tagging(Bucket=s3_bucket, Key="uploads/a.txt")["TagSet"] == [{"Key": "k", "Value": "v"}]
    # A field the policy does not name.
    r = upload({**fields, "x-amz-meta-extra": "x"})
    assert r.status_code == 403 and "Extra input fields: x-amz-meta-extra" in r.text
    # A condition that fails: the key is not the one the policy names.
    r = upload({**fields, "key": "elsewhere/${filename}"})
    assert r.status_code == 403 and "Policy Condition failed" in r.text
    assert upload(fields, body=b"x" * 101).status_code == 400  # beyond content-length-range

    def unsigned(policy):
        doc = base64.b64encode(json.dumps(policy).encode()).decode()
        return upload({"key": "k", "AWSAccessKeyId": "test-ak", "policy": doc, "signature": "unchecked"})

    r = unsigned({"conditions": [{"bucket": s3_bucket}, ["starts-with", "$key", ""]]})
    assert r.status_code == 400 and "<Code>InvalidPolicyDocument</Code>" in r.text and "expiration" in r.text
    r = unsigned({"expiration": "2999-01-01T00:00:00Z",
                  "conditions": [{"bucket": s3_bucket}, ["starts-with", "$key", ""], ["content-length-range", 0]]})
    assert r.status_code == 400 and "content-length-range" in r.text
    assert "Contents" not in s3.list_objects_v2(Bucket=s3_bucket, Prefix="k")


def test_s3_list_buckets_pages_with_max_buckets(endpoint, s3, bucket_name):
    names = [f"{bucket_name}-{i}" for i in range(3)]
    for n in names:
        s3.create_bucket(Bucket=n)
    try:
        first = s3.list_buckets(MaxBuckets=2, Prefix=bucket_name)
        assert [b["Name"] for b in first["Buckets"]] == names[:2]
        rest = s3.list_buckets(MaxBuckets=2, Prefix=bucket_name, ContinuationToken=first["ContinuationToken"])
        assert [b["Name"] for b in rest["Buckets"]] == names[2:] and "ContinuationToken" not in rest
        r = requests.get(f"{endpoint}/?max-buckets=0", headers={"x-amz-date": "20260101T000000Z"})
        assert r.status_code == 400 and "max-buckets" in r.text
    finally:
        for n in names:
            s3.delete_bucket(Bucket=n)


@pytest.mark.parametrize("value", [b"caf\xe9", "日本".encode(), b"a=b; c"], ids=["latin-1", "utf-8", "ascii"])
def test_s3_metadata_bytes_round_trip(endpoint, s3, s3_bucket, value):
    """What a client sends as x-amz-meta-* bytes comes back as the same bytes (Python's
    http.client writes str headers in Latin-1)."""
    s3_headers = {"x-amz-date": "20260101T000000Z"}
    r = requests.put(f"{endpoint}/{s3_bucket}/m", data=b"x", headers={**s3_headers, "x-amz-meta-k": value})
    assert r.status_code == 200, r.text
    head = requests.head(f"{endpoint}/{s3_bucket}/m", headers=s3_headers)
    assert head.raw.headers["x-amz-meta-k"].encode("latin-1") == value

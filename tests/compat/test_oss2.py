"""The Python oss2 SDK against fcemu's object store: every operation, with contents, headers
and error codes checked as the SDK parses them."""

import base64
import hashlib
import json
import os
import time
from datetime import datetime, timedelta, timezone

import oss2
import pytest
import requests
from oss2.models import PartInfo, Tagging, TaggingRule

from osscompat import AK, SK


@pytest.fixture(scope="module")
def auth():
    return oss2.Auth(AK, SK)


@pytest.fixture
def bucket(endpoint, auth, bucket_name):
    b = oss2.Bucket(auth, endpoint, bucket_name)
    b.create_bucket(oss2.BUCKET_ACL_PRIVATE)
    yield b
    # Leave nothing behind: objects, then uploads, then the bucket.
    for obj in oss2.ObjectIterator(b):
        b.delete_object(obj.key)
    for up in oss2.MultipartUploadIterator(b):
        b.abort_multipart_upload(up.key, up.upload_id)
    b.delete_bucket()


def crc64_of(data: bytes) -> int:
    c = oss2.utils.Crc64()
    c.update(data)
    return c.crc


# ------------------------------------------------------------------------------ buckets


def test_bucket_lifecycle(endpoint, auth, bucket_name):
    b = oss2.Bucket(auth, endpoint, bucket_name)
    b.create_bucket(oss2.BUCKET_ACL_PUBLIC_READ)
    names = [x.name for x in oss2.BucketIterator(oss2.Service(auth, endpoint))]
    assert bucket_name in names
    listed = oss2.Service(auth, endpoint).list_buckets(prefix=bucket_name)
    assert [x.name for x in listed.buckets] == [bucket_name]
    assert listed.buckets[0].location == "oss-cn-hangzhou"
    info = b.get_bucket_info()
    assert info.name == bucket_name
    assert info.storage_class == "Standard"
    assert info.acl.grant == "public-read"
    assert info.owner.id
    assert b.get_bucket_location().location == "oss-cn-hangzhou"
    b.put_bucket_acl(oss2.BUCKET_ACL_PRIVATE)
    assert b.get_bucket_acl().acl == "private"
    assert b.create_bucket().status == 200  # one's own bucket again: OSS answers 200
    b.put_object("k", b"x")
    with pytest.raises(oss2.exceptions.BucketNotEmpty):
        b.delete_bucket()
    b.delete_object("k")
    b.delete_bucket()
    with pytest.raises(oss2.exceptions.NoSuchBucket) as e:
        b.get_bucket_info()
    assert e.value.details["BucketName"] == bucket_name


def test_missing_bucket_and_bad_names(endpoint, auth):
    b = oss2.Bucket(auth, endpoint, "no-such-bucket-here")
    with pytest.raises(oss2.exceptions.NoSuchBucket):
        b.put_object("k", b"x")
    with pytest.raises(oss2.exceptions.NoSuchBucket):
        b.get_object("k")
    # oss2 refuses bad names client-side, so ask the server directly.
    r = requests.put(f"{endpoint}/Bad_Name/")
    assert r.status_code == 400
    assert "<Code>InvalidBucketName</Code>" in r.text
    assert "<RequestId>" in r.text and "<HostId>" in r.text
    assert r.headers["x-oss-request-id"] in r.text


# ------------------------------------------------------------------------------ objects


def test_put_get_head_with_metadata(bucket):
    data = b"hello"
    r = bucket.put_object(
        "dir/a b+c?.txt",
        data,
        headers={"Content-Type": "text/x-test", "x-oss-meta-Author": "Ann", "Cache-Control": "no-cache"},
    )
    assert r.status == 200
    assert r.etag == "5D41402ABC4B2A76B9719D911017C592"
    assert r.crc == crc64_of(data) == 11177612005948864433
    assert len(r.request_id) == 24

    g = bucket.get_object("dir/a b+c?.txt")
    assert g.read() == data
    assert g.content_type == "text/x-test"
    assert g.headers["x-oss-meta-author"] == "Ann"
    assert g.headers["Cache-Control"] == "no-cache"
    assert g.server_crc == crc64_of(data)
    assert g.object_type == "Normal"

    h = bucket.head_object("dir/a b+c?.txt")
    assert h.content_length == 5
    assert h.etag == r.etag
    assert h.headers["x-oss-meta-author"] == "Ann"
    m = bucket.get_object_meta("dir/a b+c?.txt")
    assert m.content_length == 5 and m.etag == r.etag
    assert bucket.object_exists("dir/a b+c?.txt")
    assert not bucket.object_exists("nope")


def test_empty_and_unicode_and_large_object(bucket, tmp_path):
    r = bucket.put_object("empty", b"")
    assert r.crc == 0
    assert bucket.get_object("empty").read() == b""
    bucket.put_object("目录/ファイル ✓.bin", b"\x00\x01\x02")
    assert bucket.get_object("目录/ファイル ✓.bin").read() == b"\x00\x01\x02"
    big = os.urandom(3 * 1024 * 1024 + 17)
    src = tmp_path / "big.bin"
    src.write_bytes(big)
    bucket.put_object_from_file("big.bin", str(src))
    dst = tmp_path / "down.bin"
    bucket.get_object_to_file("big.bin", str(dst))  # oss2 compares the CRC of the download
    assert dst.read_bytes() == big


def test_missing_key(bucket):
    with pytest.raises(oss2.exceptions.NoSuchKey) as e:
        bucket.get_object("missing.txt")
    assert e.value.status == 404
    assert e.value.details["Key"] == "missing.txt"
    assert e.value.request_id
    with pytest.raises(oss2.exceptions.NotFound):
        bucket.head_object("missing.txt")
    with pytest.raises(oss2.exceptions.InvalidObjectName):
        bucket.put_object("\\bad", b"x")


def test_wrong_content_md5_stores_nothing(bucket):
    wrong = base64.b64encode(hashlib.md5(b"other").digest()).decode()
    with pytest.raises(oss2.exceptions.InvalidDigest):
        bucket.put_object("md5", b"hello", headers={"Content-MD5": wrong})
    assert not bucket.object_exists("md5")
    right = base64.b64encode(hashlib.md5(b"hello").digest()).decode()
    bucket.put_object("md5", b"hello", headers={"Content-MD5": right})
    assert bucket.get_object("md5").read() == b"hello"


def test_forbid_overwrite(bucket):
    bucket.put_object("once", b"1")
    with pytest.raises(oss2.exceptions.ServerError) as e:
        bucket.put_object("once", b"2", headers={"x-oss-forbid-overwrite": "true"})
    assert e.value.status == 409 and e.value.code == "FileAlreadyExists"
    assert bucket.get_object("once").read() == b"1"


def test_range_reads(bucket):
    bucket.put_object("r", b"0123456789")
    g = bucket.get_object("r", byte_range=(2, 5))
    assert g.status == 206
    assert g.read() == b"2345"
    assert g.headers["Content-Range"] == "bytes 2-5/10"
    assert bucket.get_object("r", byte_range=(7, None)).read() == b"789"
    assert bucket.get_object("r", byte_range=(None, 3)).read() == b"789"
    # OSS ignores unsatisfiable or multiple ranges and returns the whole object.
    g = bucket.get_object("r", byte_range=(5, 100))
    assert g.status == 200 and g.read() == b"0123456789"
    g = bucket.get_object("r", headers={"Range": "bytes=0-1,4-5"})
    assert g.status == 200 and g.read() == b"0123456789"
    g = bucket.get_object("r", byte_range=(20, 30))
    assert g.status == 200
    # ... unless asked to behave like HTTP.
    g = bucket.get_object("r", byte_range=(5, 100), headers={"x-oss-range-behavior": "standard"})
    assert g.status == 206 and g.read() == b"56789"
    with pytest.raises(oss2.exceptions.ServerError) as e:
        bucket.get_object("r", byte_range=(20, 30), headers={"x-oss-range-behavior": "standard"})
    assert e.value.status == 416 and e.value.code == "InvalidRange"


def test_conditional_get(bucket):
    r = bucket.put_object("c", b"abc")
    assert bucket.get_object("c", headers={"If-Match": r.etag}).read() == b"abc"
    assert bucket.get_object("c", headers={"If-Match": f'"{r.etag}"'}).read() == b"abc"
    with pytest.raises(oss2.exceptions.PreconditionFailed):
        bucket.get_object("c", headers={"If-Match": '"0000"'})
    with pytest.raises(oss2.exceptions.NotModified):
        bucket.get_object("c", headers={"If-None-Match": f'"{r.etag}"'})
    last = bucket.head_object("c").headers["Last-Modified"]
    with pytest.raises(oss2.exceptions.NotModified):
        bucket.get_object("c", headers={"If-Modified-Since": last})
    past = "Mon, 01 Jan 2001 00:00:00 GMT"
    with pytest.raises(oss2.exceptions.PreconditionFailed):
        bucket.get_object("c", headers={"If-Unmodified-Since": past})
    assert bucket.get_object("c", headers={"If-Modified-Since": past}).read() == b"abc"


def test_delete_and_batch_delete(bucket):
    for k in ["a", "b&c", "d e", "f"]:
        bucket.put_object(k, b"x")
    bucket.delete_object("a")
    bucket.delete_object("never-existed")
    assert not bucket.object_exists("a")
    r = bucket.batch_delete_objects(["b&c", "d e", "ghost"])
    assert sorted(r.deleted_keys) == ["b&c", "d e", "ghost"]
    assert [o.key for o in oss2.ObjectIterator(bucket)] == ["f"]


def test_batch_delete_limits_and_malformed_xml(endpoint, bucket):
    keys = [f"k{i}" for i in range(1001)]
    with pytest.raises(oss2.exceptions.MalformedXml):
        bucket.batch_delete_objects(keys)
    body = b"<Delete><Object><Key>a</Key></Object"
    md5 = base64.b64encode(hashlib.md5(body).digest()).decode()
    r = requests.post(f"{endpoint}/{bucket.bucket_name}/?delete=", data=body, headers={"Content-MD5": md5})
    assert r.status_code == 400 and "<Code>MalformedXML</Code>" in r.text
    r = requests.post(
        f"{endpoint}/{bucket.bucket_name}/?delete=",
        data=b"<Delete><Object><Key>a</Key></Object></Delete>",
        headers={"Content-MD5": md5},
    )
    assert r.status_code == 400 and "<Code>InvalidDigest</Code>" in r.text


def test_copy_and_metadata_directive(bucket):
    bucket.put_object("src", b"data", headers={"Content-Type": "text/plain", "x-oss-meta-a": "1"})
    r = bucket.copy_object(bucket.bucket_name, "src", "dst")
    assert r.etag == bucket.head_object("src").etag
    h = bucket.head_object("dst")
    assert h.headers["x-oss-meta-a"] == "1" and h.content_type == "text/plain"
    bucket.copy_object(
        bucket.bucket_name,
        "src",
        "dst2",
        headers={"x-oss-metadata-directive": "REPLACE", "x-oss-meta-b": "2", "Content-Type": "application/json"},
    )
    h = bucket.head_object("dst2")
    assert "x-oss-meta-a" not in h.headers and h.headers["x-oss-meta-b"] == "2"
    assert h.content_type == "application/json"
    assert bucket.get_object("dst2").read() == b"data"
    bucket.update_object_meta("src", {"x-oss-meta-c": "3", "Content-Type": "text/csv"})
    h = bucket.head_object("src")
    assert h.headers["x-oss-meta-c"] == "3" and "x-oss-meta-a" not in h.headers
    assert bucket.get_object("src").read() == b"data"
    with pytest.raises(oss2.exceptions.NoSuchKey):
        bucket.copy_object(bucket.bucket_name, "nope", "x")
    with pytest.raises(oss2.exceptions.PreconditionFailed):
        bucket.copy_object(bucket.bucket_name, "src", "x", headers={"x-oss-copy-source-if-match": '"0"'})


def test_append_object(bucket):
    r = bucket.append_object("log", 0, b"hello")
    assert r.next_position == 5
    assert r.crc == crc64_of(b"hello")
    r = bucket.append_object("log", 5, b" world", init_crc=r.crc)
    assert r.next_position == 11
    assert r.crc == crc64_of(b"hello world")
    h = bucket.head_object("log")
    assert h.object_type == "Appendable"
    assert h.headers["x-oss-next-append-position"] == "11"
    assert bucket.get_object("log").read() == b"hello world"
    with pytest.raises(oss2.exceptions.PositionNotEqualToLength) as e:
        bucket.append_object("log", 3, b"x")
    assert e.value.next_position == 11
    bucket.put_object("normal", b"x")
    with pytest.raises(oss2.exceptions.ObjectNotAppendable):
        bucket.append_object("normal", 1, b"y")


def test_object_acl(bucket):
    bucket.put_object("acl", b"x")
    assert bucket.get_object_acl("acl").acl == "default"
    bucket.put_object_acl("acl", oss2.OBJECT_ACL_PUBLIC_READ)
    assert bucket.get_object_acl("acl").acl == "public-read"
    with pytest.raises(oss2.exceptions.NoSuchKey):
        bucket.get_object_acl("nope")


# ------------------------------------------------------------------------------ listing

KEYS = ["a", "b/1", "b/2", "b/c/3", "c d+e", "d/x", "é", "Z"]


@pytest.fixture
def listed(bucket):
    for k in KEYS:
        bucket.put_object(k, k.encode())
    return bucket


def test_list_v1(listed):
    r = listed.list_objects()
    assert [o.key for o in r.object_list] == sorted(KEYS, key=lambda k: k.encode())
    assert not r.is_truncated
    assert r.object_list[0].size == 1 and r.object_list[0].type == "Normal"
    assert r.object_list[0].storage_class == "Standard"
    r = listed.list_objects(delimiter="/")
    assert r.prefix_list == ["b/", "d/"]
    assert [o.key for o in r.object_list] == ["Z", "a", "c d+e", "é"]
    r = listed.list_objects(prefix="b/", delimiter="/")
    assert [o.key for o in r.object_list] == ["b/1", "b/2"] and r.prefix_list == ["b/c/"]
    r = listed.list_objects(max_keys=3)
    assert r.is_truncated and r.next_marker == "b/1"
    r = listed.list_objects(marker="b/1", max_keys=2)
    assert [o.key for o in r.object_list] == ["b/2", "b/c/3"]
    all_keys = [o.key for o in oss2.ObjectIterator(listed, max_keys=2)]
    assert all_keys == sorted(KEYS, key=lambda k: k.encode())
    grouped = [getattr(o, "key") for o in oss2.ObjectIterator(listed, delimiter="/", max_keys=1)]
    assert grouped == ["Z", "a", "b/", "c d+e", "d/", "é"]
    with pytest.raises(oss2.exceptions.InvalidArgument):
        listed.list_objects(max_keys=1001)


def test_list_v2(listed):
    r = listed.list_objects_v2(max_keys=3, fetch_owner=True)
    assert r.is_truncated and r.next_continuation_token
    assert r.object_list[0].owner.id
    r2 = listed.list_objects_v2(continuation_token=r.next_continuation_token, max_keys=100)
    assert [o.key for o in r.object_list + r2.object_list] == sorted(KEYS, key=lambda k: k.encode())
    r = listed.list_objects_v2(start_after="c d+e")
    assert [o.key for o in r.object_list] == ["d/x", "é"]
    keys = [o.key for o in oss2.ObjectIteratorV2(listed, delimiter="/", max_keys=2)]
    assert keys == ["Z", "a", "b/", "c d+e", "d/", "é"]


# ------------------------------------------------------------------------------ multipart

PART = 100 * 1024


def test_multipart_upload(bucket):
    key = "big/file.bin"
    parts_data = [os.urandom(PART), os.urandom(PART), b"tail"]
    init = bucket.init_multipart_upload(key, headers={"Content-Type": "application/x-big", "x-oss-meta-m": "v"})
    upload_id = init.upload_id
    assert len(upload_id) == 32
    ups = bucket.list_multipart_uploads()
    assert [(u.key, u.upload_id) for u in ups.upload_list] == [(key, upload_id)]
    infos = []
    for i, d in enumerate(parts_data, start=1):
        r = bucket.upload_part(key, upload_id, i, d)
        assert r.crc == crc64_of(d)
        infos.append(PartInfo(i, r.etag, size=len(d), part_crc=r.crc))
    lp = bucket.list_parts(key, upload_id)
    assert [p.part_number for p in lp.parts] == [1, 2, 3]
    assert [p.size for p in lp.parts] == [PART, PART, 4]
    lp = bucket.list_parts(key, upload_id, max_parts=2)
    assert lp.is_truncated and str(lp.next_marker) == "2"
    r = bucket.complete_multipart_upload(key, upload_id, infos)
    assert r.etag.endswith("-3")
    assert r.crc == crc64_of(b"".join(parts_data))
    g = bucket.get_object(key)
    assert g.read() == b"".join(parts_data)
    assert g.object_type == "Multipart" and g.content_type == "application/x-big"
    assert g.headers["x-oss-meta-m"] == "v"
    assert bucket.list_multipart_uploads().upload_list == []
    with pytest.raises(oss2.exceptions.NoSuchUpload):
        bucket.upload_part(key, upload_id, 1, b"x")


def test_multipart_errors_and_abort(bucket):
    key = "m"
    upload_id = bucket.init_multipart_upload(key).upload_id
    r1 = bucket.upload_part(key, upload_id, 1, b"small")
    r2 = bucket.upload_part(key, upload_id, 2, b"last")
    with pytest.raises(oss2.exceptions.ServerError) as e:
        bucket.complete_multipart_upload(key, upload_id, [PartInfo(1, r1.etag), PartInfo(2, r2.etag)])
    assert e.value.status == 400 and e.value.code == "EntityTooSmall"
    with pytest.raises(oss2.exceptions.ServerError) as e:
        bucket.complete_multipart_upload(key, upload_id, [PartInfo(1, '"BAD"')])
    assert e.value.code == "InvalidPart"
    with pytest.raises(oss2.exceptions.NoSuchUpload):
        bucket.complete_multipart_upload(key, "0" * 32, [PartInfo(1, r1.etag)])
    with pytest.raises(oss2.exceptions.InvalidArgument):
        bucket.upload_part(key, upload_id, 10001, b"x")
    with pytest.raises(oss2.exceptions.InvalidDigest):
        bucket.upload_part(key, upload_id, 3, b"abc", headers={"Content-MD5": "AAAAAAAAAAAAAAAAAAAAAA=="})
    bucket.abort_multipart_upload(key, upload_id)
    with pytest.raises(oss2.exceptions.NoSuchUpload):
        bucket.abort_multipart_upload(key, upload_id)
    with pytest.raises(oss2.exceptions.NoSuchUpload):
        bucket.list_parts(key, upload_id)


def test_complete_all_and_upload_part_copy(bucket):
    src = os.urandom(3 * PART)
    bucket.put_object("src", src)
    key = "copied"
    upload_id = bucket.init_multipart_upload(key).upload_id
    r1 = bucket.upload_part_copy(bucket.bucket_name, "src", (0, PART - 1), key, upload_id, 1)
    r2 = bucket.upload_part_copy(bucket.bucket_name, "src", (PART, 3 * PART - 1), key, upload_id, 2)
    assert r1.etag and r2.etag
    bucket.complete_multipart_upload(key, upload_id, None, headers={"x-oss-complete-all": "yes"})
    assert bucket.get_object(key).read() == src


def test_resumable_upload_and_download(bucket, tmp_path):
    data = os.urandom(600 * 1024)
    src = tmp_path / "src.bin"
    src.write_bytes(data)
    oss2.resumable_upload(
        bucket, "resumable.bin", str(src), multipart_threshold=200 * 1024, part_size=PART,
        store=oss2.ResumableStore(root=str(tmp_path)),
    )
    h = bucket.head_object("resumable.bin")
    assert h.object_type == "Multipart" and h.content_length == len(data)
    dst = tmp_path / "dst.bin"
    oss2.resumable_download(
        bucket, "resumable.bin", str(dst), multiget_threshold=200 * 1024, part_size=PART,
        store=oss2.ResumableDownloadStore(root=str(tmp_path)),
    )
    assert dst.read_bytes() == data


# ------------------------------------------------------------------------------ tagging, symlinks


def test_object_tagging(bucket):
    bucket.put_object("t", b"x", headers={"x-oss-tagging": "a=1&b=two%20words"})
    tags = bucket.get_object_tagging("t").tag_set.tagging_rule
    assert tags == {"a": "1", "b": "two words"}
    assert bucket.head_object("t").headers["x-oss-tagging-count"] == "2"
    rule = TaggingRule()
    rule.add("k", "v 1")
    bucket.put_object_tagging("t", Tagging(rule))
    assert bucket.get_object_tagging("t").tag_set.tagging_rule == {"k": "v 1"}
    bucket.delete_object_tagging("t")
    assert bucket.get_object_tagging("t").tag_set.tagging_rule == {}


def test_symlink(bucket):
    bucket.put_object("dir/target.txt", b"pointed", headers={"Content-Type": "text/plain"})
    bucket.put_symlink("dir/target.txt", "link")
    assert bucket.get_symlink("link").target_key == "dir/target.txt"
    g = bucket.get_object("link")
    assert g.read() == b"pointed"
    assert g.headers["x-oss-object-type"] == "Symlink"
    types = {o.key: o.type for o in oss2.ObjectIterator(bucket)}
    assert types["link"] == "Symlink"
    bucket.put_symlink("missing", "dangling")
    with pytest.raises(oss2.exceptions.NoSuchKey):
        bucket.get_object("dangling")
    with pytest.raises(oss2.exceptions.ServerError) as e:
        bucket.get_symlink("dir/target.txt")
    assert e.value.code == "NotSymlink"


# ------------------------------------------------------------------------------ form upload, presign


def test_post_object(endpoint, bucket):
    policy = {
        "expiration": (datetime.now(timezone.utc) + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        "conditions": [["content-length-range", 1, 1024]],
    }
    policy_b64 = base64.b64encode(json.dumps(policy).encode()).decode()
    import hmac

    signature = base64.b64encode(hmac.new(SK.encode(), policy_b64.encode(), hashlib.sha1).digest()).decode()
    fields = {
        "key": "uploads/${filename}",
        "OSSAccessKeyId": AK,
        "policy": policy_b64,
        "Signature": signature,
        "x-oss-meta-origin": "form",
        "success_action_status": "201",
    }
    r = requests.post(
        f"{endpoint}/{bucket.bucket_name}",
        data=fields,
        files={"file": ("photo.txt", b"form body", "text/plain")},
    )
    assert r.status_code == 201, r.text
    assert "<PostResponse>" in r.text
    assert int(r.headers["x-oss-hash-crc64ecma"]) == crc64_of(b"form body")
    g = bucket.get_object("uploads/photo.txt")
    assert g.read() == b"form body"
    assert g.headers["x-oss-meta-origin"] == "form"
    assert g.content_type == "text/plain"
    fields["key"] = "big"
    r = requests.post(f"{endpoint}/{bucket.bucket_name}", data=fields, files={"file": ("b", b"x" * 2000)})
    assert r.status_code == 400 and "EntityTooLarge" in r.text
    assert not bucket.object_exists("big")
    r = requests.post(f"{endpoint}/{bucket.bucket_name}", data={"key": "nofile"}, files={"x": ("a", b"")})
    assert r.status_code == 400


def test_presigned_urls(bucket):
    bucket.put_object("p q.txt", b"presigned")
    url = bucket.sign_url("GET", "p q.txt", 60)
    assert "Signature=" in url
    assert requests.get(url).content == b"presigned"
    put_url = bucket.sign_url("PUT", "up.txt", 60)
    assert requests.put(put_url, data=b"via url").status_code == 200
    assert bucket.get_object("up.txt").read() == b"via url"


def test_unsupported_subresource(bucket):
    with pytest.raises(oss2.exceptions.ServerError) as e:
        bucket.get_bucket_lifecycle()
    assert e.value.code == "NotImplemented"


def test_virtual_host_through_proxy(endpoint, auth, bucket):
    """A virtual-hosted request (Host: <bucket>.127.0.0.1:PORT) reaches the same bucket."""
    bucket.put_object("vh.txt", b"virtual")
    host = endpoint.split("//", 1)[1]
    r = requests.get(f"{endpoint}/vh.txt", headers={"Host": f"{bucket.bucket_name}.{host}"})
    assert r.status_code == 200 and r.content == b"virtual"
    vb = oss2.Bucket(auth, endpoint, bucket.bucket_name, is_path_style=False)
    assert vb.get_object("vh.txt").read() == b"virtual"


def test_bucket_stat(bucket):
    bucket.put_object("s1", b"12345")
    bucket.put_object("s2", b"678")
    bucket.init_multipart_upload("s3")
    stat = bucket.get_bucket_stat()
    assert stat.storage_size_in_bytes == 8
    assert stat.object_count == 2
    assert stat.multi_part_upload_count == 1


def test_iterable_body_is_chunked(bucket):
    def gen():
        yield b"chunk-1|"
        yield b"chunk-2"

    r = bucket.put_object("gen", gen())
    assert r.crc == crc64_of(b"chunk-1|chunk-2")
    assert bucket.get_object("gen").read() == b"chunk-1|chunk-2"


def test_virtual_hosted_endpoint_through_http_proxy(endpoint, auth, bucket):
    """oss2 with a real-looking endpoint uses <bucket>.<endpoint> host names; with the emulator as
    HTTP proxy (what `fcemu exec` sets up) the requests still arrive."""
    b = oss2.Bucket(auth, "http://oss-cn-hangzhou.aliyuncs.com", bucket.bucket_name, proxies={"http": endpoint})
    b.put_object("proxied/key.txt", b"through the proxy")
    assert bucket.get_object("proxied/key.txt").read() == b"through the proxy"
    assert [o.key for o in oss2.ObjectIterator(b, prefix="proxied/")] == ["proxied/key.txt"]
    b.delete_object("proxied/key.txt")


def test_a_bucket_named_like_an_endpoint_is_reached_virtual_hosted(endpoint, auth, monkeypatch):
    """`oss-demo.oss-cn-hangzhou.aliyuncs.com` names bucket `oss-demo`: only the last labels are
    the endpoint. oss2 with the region's real endpoint reaches fcemu through HTTP_PROXY."""
    name = "oss-" + os.urandom(6).hex()
    oss2.Bucket(auth, endpoint, name).create_bucket()
    for var in ("HTTP_PROXY", "http_proxy"):
        monkeypatch.setenv(var, endpoint)
    for var in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(var, raising=False)
    hosted = oss2.Bucket(auth, "http://oss-cn-hangzhou.aliyuncs.com", name)
    hosted.put_object("k.txt", b"virtual")
    assert hosted.get_object("k.txt").read() == b"virtual"
    assert [o.key for o in oss2.ObjectIterator(hosted)] == ["k.txt"]
    hosted.delete_object("k.txt")
    hosted.delete_bucket()

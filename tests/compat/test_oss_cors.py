"""Bucket CORS with oss2 and boto3: rules stored and read back, preflight answers, and a page on
another origin uploading with a presigned URL as a browser does (preflight, then the PUT with
its Origin), checked on the Access-Control-* headers the browser reads."""

import oss2
import pytest
import requests
from botocore.exceptions import ClientError
from oss2.models import BucketCors, CorsRule

from osscompat import AK, SK

PAGE = "http://localhost:3000"


@pytest.fixture
def bucket(endpoint, bucket_name):
    b = oss2.Bucket(oss2.Auth(AK, SK), endpoint, bucket_name)
    b.create_bucket()
    yield b
    for obj in oss2.ObjectIterator(b):
        b.delete_object(obj.key)
    b.delete_bucket()


def upload_rule(**kw):
    return CorsRule(
        allowed_origins=[PAGE],
        allowed_methods=["PUT", "GET"],
        allowed_headers=["content-type", "x-oss-*"],
        expose_headers=["ETag", "x-oss-request-id"],
        max_age_seconds=600,
        **kw,
    )


def preflight(endpoint, bucket, key, origin=PAGE, method="PUT", headers="content-type"):
    h = {"Origin": origin, "Access-Control-Request-Method": method}
    if headers:
        h["Access-Control-Request-Headers"] = headers
    return requests.options(f"{endpoint}/{bucket}/{key}", headers=h)


def test_rules_round_trip_and_delete(bucket):
    with pytest.raises(oss2.exceptions.NoSuchCors) as e:
        bucket.get_bucket_cors()
    assert e.value.status == 404
    bucket.put_bucket_cors(BucketCors([upload_rule(), CorsRule(allowed_origins=["*"], allowed_methods=["GET"])], response_vary=True))
    got = bucket.get_bucket_cors()
    assert got.response_vary is True
    assert [(r.allowed_origins, r.allowed_methods, r.allowed_headers, r.expose_headers, r.max_age_seconds) for r in got.rules] == [
        ([PAGE], ["PUT", "GET"], ["content-type", "x-oss-*"], ["ETag", "x-oss-request-id"], 600),
        (["*"], ["GET"], [], [], None),
    ]
    bucket.delete_bucket_cors()
    with pytest.raises(oss2.exceptions.NoSuchCors):
        bucket.get_bucket_cors()


def test_bad_rules_are_refused_and_keep_the_old_ones(bucket):
    bucket.put_bucket_cors(BucketCors([upload_rule()]))
    with pytest.raises(oss2.exceptions.ServerError) as e:
        bucket.put_bucket_cors(BucketCors([CorsRule(allowed_origins=["*"], allowed_methods=["PATCH"])]))
    assert (e.value.status, e.value.code) == (400, "InvalidArgument")
    with pytest.raises(oss2.exceptions.ServerError) as e:
        bucket.put_bucket_cors(BucketCors([upload_rule()] * 11))
    assert e.value.status == 400
    assert bucket.get_bucket_cors().rules[0].allowed_origins == [PAGE]


def test_preflight_answers_what_a_rule_allows(endpoint, bucket):
    r = preflight(endpoint, bucket.bucket_name, "photos/a.jpg")
    assert r.status_code == 403 and "CORS is not enabled for this bucket" in r.text
    bucket.put_bucket_cors(BucketCors([upload_rule()]))
    r = preflight(endpoint, bucket.bucket_name, "photos/a.jpg", headers="Content-Type, X-Oss-Meta-Owner")
    assert r.status_code == 200, r.text
    assert r.headers["Access-Control-Allow-Origin"] == PAGE
    assert r.headers["Access-Control-Allow-Methods"] == "PUT, GET"
    assert r.headers["Access-Control-Allow-Headers"] == "content-type, x-oss-meta-owner"
    assert r.headers["Access-Control-Expose-Headers"] == "ETag, x-oss-request-id"
    assert r.headers["Access-Control-Max-Age"] == "600"
    for denied in [
        dict(origin="http://evil.example"),
        dict(method="DELETE"),
        dict(headers="authorization"),
    ]:
        r = preflight(endpoint, bucket.bucket_name, "photos/a.jpg", **denied)
        assert r.status_code == 403, denied
        assert "<Code>AccessForbidden</Code>" in r.text
        assert "Access-Control-Allow-Origin" not in r.headers
    r = requests.options(f"{endpoint}/{bucket.bucket_name}/a", headers={"Access-Control-Request-Method": "PUT"})
    assert r.status_code == 400 and "Origin request header needed" in r.text
    r = preflight(endpoint, "no-such-bucket-cors", "a")
    assert r.status_code == 404 and "<Code>NoSuchBucket</Code>" in r.text


def test_a_page_uploads_with_a_presigned_url(endpoint, bucket):
    bucket.put_bucket_cors(BucketCors([upload_rule()]))
    url = bucket.sign_url("PUT", "photos/from-page.jpg", 300, headers={"Content-Type": "image/jpeg"})
    assert preflight(endpoint, bucket.bucket_name, "photos/from-page.jpg").status_code == 200
    r = requests.put(url, data=b"\xff\xd8jpeg", headers={"Origin": PAGE, "Content-Type": "image/jpeg"})
    assert r.status_code == 200, r.text
    assert r.headers["Access-Control-Allow-Origin"] == PAGE
    assert r.headers["Access-Control-Expose-Headers"] == "ETag, x-oss-request-id"
    assert bucket.get_object("photos/from-page.jpg").read() == b"\xff\xd8jpeg"
    # Another site's page gets its answer without the headers: the browser withholds it.
    r = requests.get(bucket.sign_url("GET", "photos/from-page.jpg", 300), headers={"Origin": "http://evil.example"})
    assert r.status_code == 200 and "Access-Control-Allow-Origin" not in r.headers
    # SDK requests carry no Origin and get no CORS headers.
    assert "Access-Control-Allow-Origin" not in bucket.get_object("photos/from-page.jpg").headers


def test_a_deleted_bucket_forgets_its_rules(endpoint, bucket_name):
    b = oss2.Bucket(oss2.Auth(AK, SK), endpoint, bucket_name)
    b.create_bucket()
    b.put_bucket_cors(BucketCors([upload_rule()]))
    b.delete_bucket()
    b.create_bucket()
    with pytest.raises(oss2.exceptions.NoSuchCors):
        b.get_bucket_cors()
    b.delete_bucket()


def test_boto3_bucket_cors(endpoint, s3, bucket_name):
    s3.create_bucket(Bucket=bucket_name)
    try:
        with pytest.raises(ClientError) as e:
            s3.get_bucket_cors(Bucket=bucket_name)
        assert e.value.response["Error"]["Code"] == "NoSuchCORSConfiguration"
        s3.put_bucket_cors(
            Bucket=bucket_name,
            CORSConfiguration={
                "CORSRules": [
                    {"ID": "page", "AllowedOrigins": ["*"], "AllowedMethods": ["GET", "PUT"], "AllowedHeaders": ["*"], "MaxAgeSeconds": 60}
                ]
            },
        )
        rules = s3.get_bucket_cors(Bucket=bucket_name)["CORSRules"]
        assert rules == [{"ID": "page", "AllowedOrigins": ["*"], "AllowedMethods": ["GET", "PUT"], "AllowedHeaders": ["*"], "MaxAgeSeconds": 60}]
        r = requests.options(
            f"{endpoint}/{bucket_name}/k",
            headers={"Origin": PAGE, "Access-Control-Request-Method": "PUT", "Access-Control-Request-Headers": "x-amz-date"},
        )
        assert r.status_code == 200
        s3.delete_bucket_cors(Bucket=bucket_name)
        with pytest.raises(ClientError):
            s3.get_bucket_cors(Bucket=bucket_name)
    finally:
        s3.delete_bucket(Bucket=bucket_name)

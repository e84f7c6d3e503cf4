//! Black-box tests of the object store's router, served on 127.0.0.1:0 with a deterministic
//! clock and ids: conformance of listing order, ranges, conditions, multipart, errors, and the
//! change notifications each write publishes.

use std::sync::Arc;

use fcemu_core::{Clock, DataDir, IdGen};
use fcemu_oss::{ObjectEvent, Oss, OssConfig};
use reqwest::StatusCode;

struct Server {
    oss: Oss,
    base: String,
    http: reqwest::Client,
}

async fn server_with(tweak: impl FnOnce(&mut OssConfig)) -> Server {
    let mut cfg = OssConfig::with_context(fcemu_core::ServiceContext::new(Arc::new(
        DataDir::temporary("oss-test").unwrap(),
    )));
    cfg.ctx.clock = Clock::deterministic();
    cfg.ctx.ids = IdGen::sequential();
    tweak(&mut cfg);
    let oss = Oss::open(cfg).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(fcemu_oss::serve(listener, oss.router()));
    Server {
        oss,
        base,
        http: reqwest::Client::new(),
    }
}

async fn server() -> Server {
    server_with(|_| {}).await
}

impl Server {
    fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    async fn put(&self, path: &str, body: &'static [u8]) -> reqwest::Response {
        self.http
            .put(self.url(path))
            .body(body)
            .send()
            .await
            .unwrap()
    }

    async fn get(&self, path: &str) -> reqwest::Response {
        self.http.get(self.url(path)).send().await.unwrap()
    }
}

fn xml_text<'a>(doc: &'a str, tag: &str) -> Vec<&'a str> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    doc.split(&open)
        .skip(1)
        .filter_map(|s| s.split(&close).next())
        .collect()
}

#[tokio::test]
async fn deterministic_ids_and_error_documents() {
    let s = server().await;
    let r = s.get("/nobucket/key").await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let id = r.headers()["x-oss-request-id"]
        .to_str()
        .unwrap()
        .to_string();
    assert_eq!(id, "000000000000000000000001");
    let body = r.text().await.unwrap();
    assert!(body.starts_with(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>NoSuchBucket</Code>"
    ));
    assert_eq!(xml_text(&body, "RequestId"), vec![id.as_str()]);
    assert_eq!(xml_text(&body, "BucketName"), vec!["nobucket"]);
    assert!(!xml_text(&body, "HostId").is_empty());

    let r = s.http.head(s.url("/nobucket/key")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert!(r.headers().contains_key("x-oss-err"));
    assert!(r.bytes().await.unwrap().is_empty());

    assert_eq!(
        s.put("/Bad_Bucket/", b"").await.status(),
        StatusCode::BAD_REQUEST
    );
    assert_eq!(s.put("/ok-bucket/", b"").await.status(), StatusCode::OK);
    // One's own bucket again: OSS answers 200 and changes nothing.
    let r = s.put("/ok-bucket/", b"").await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = s
        .put("/ok-bucket/", b"<CreateBucketConfiguration><StorageClass>")
        .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("<Code>MalformedXML</Code>")
    );
}

#[tokio::test]
async fn listing_order_and_pagination() {
    let s = server().await;
    s.oss.create_bucket_if_missing("list").await.unwrap();
    let keys = ["a", "a/b", "a/b/c", "a+b", "a b", "b", "é", "Z", "~"];
    for k in keys {
        s.oss
            .put_bytes("list", k, k.as_bytes().to_vec(), None)
            .await
            .unwrap();
    }
    let mut expected: Vec<&str> = keys.to_vec();
    expected.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));

    // v1, one key per page, following NextMarker.
    let mut got = Vec::new();
    let mut marker = String::new();
    loop {
        let r = s
            .get(&format!(
                "/list/?max-keys=1&encoding-type=url&marker={}",
                urlenc(&marker)
            ))
            .await;
        let doc = r.text().await.unwrap();
        for k in xml_text(&doc, "Key") {
            got.push(urldec(k));
        }
        if xml_text(&doc, "IsTruncated") != vec!["true"] {
            break;
        }
        marker = urldec(xml_text(&doc, "NextMarker")[0]);
    }
    assert_eq!(got, expected);

    // v2 with a delimiter, two entries per page.
    let mut entries = Vec::new();
    let mut token = String::new();
    loop {
        let doc = s
            .get(&format!(
                "/list/?list-type=2&delimiter=/&max-keys=2&continuation-token={token}"
            ))
            .await
            .text()
            .await
            .unwrap();
        let count: usize = xml_text(&doc, "KeyCount")[0].parse().unwrap();
        let page: Vec<String> = xml_text(&doc, "Key")
            .into_iter()
            .chain(xml_text(&doc, "Prefix").into_iter().skip(1))
            .map(String::from)
            .collect();
        assert_eq!(page.len(), count);
        entries.extend(page);
        if xml_text(&doc, "IsTruncated") != vec!["true"] {
            break;
        }
        token = xml_text(&doc, "NextContinuationToken")[0].to_string();
    }
    entries.sort();
    assert_eq!(entries, vec!["Z", "a", "a b", "a+b", "a/", "b", "~", "é"]);

    let r = s.get("/list/?max-keys=1001").await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("<ArgumentName>max-keys</ArgumentName>")
    );
}

fn urlenc(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

fn urldec(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8()
        .unwrap()
        .into_owned()
}

#[tokio::test]
async fn ranges_and_conditions() {
    let s = server().await;
    s.oss.create_bucket_if_missing("rng").await.unwrap();
    s.put("/rng/k", b"0123456789").await;
    let get = |range: &'static str, standard: bool| {
        let mut req = s.http.get(s.url("/rng/k")).header("Range", range);
        if standard {
            req = req.header("x-oss-range-behavior", "standard");
        }
        req.send()
    };
    let r = get("bytes=0-0", false).await.unwrap();
    assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(r.headers()["content-range"], "bytes 0-0/10");
    assert_eq!(r.bytes().await.unwrap(), "0");
    let r = get("bytes=9-", false).await.unwrap();
    assert_eq!(r.bytes().await.unwrap(), "9");
    for whole in [
        "bytes=5-10",
        "bytes=10-",
        "bytes=-11",
        "bytes=1-2,4-5",
        "items=1-2",
        "bytes=3-1",
    ] {
        let r = get(whole, false).await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{whole}");
        assert_eq!(r.bytes().await.unwrap(), "0123456789");
    }
    let r = get("bytes=5-10", true).await.unwrap();
    assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(r.bytes().await.unwrap(), "56789");
    let r = get("bytes=10-", true).await.unwrap();
    assert_eq!(r.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("<Code>InvalidRange</Code>")
    );
    // The CRC header describes the whole object even on a range.
    let r = get("bytes=0-1", false).await.unwrap();
    assert_eq!(r.headers()["x-oss-hash-crc64ecma"], "2838902930144391966");

    let etag = s.oss.head_object("rng", "k").await.unwrap().etag;
    let cond =
        |name: &'static str, value: String| s.http.get(s.url("/rng/k")).header(name, value).send();
    assert_eq!(
        cond("if-match", etag.clone()).await.unwrap().status(),
        StatusCode::OK
    );
    assert_eq!(
        cond("if-match", "\"x\"".into()).await.unwrap().status(),
        StatusCode::PRECONDITION_FAILED
    );
    assert_eq!(
        cond("if-none-match", format!("\"{etag}\""))
            .await
            .unwrap()
            .status(),
        StatusCode::NOT_MODIFIED
    );
    assert_eq!(
        cond("if-none-match", "*".into()).await.unwrap().status(),
        StatusCode::NOT_MODIFIED
    );
    // The deterministic clock stands at 2024-01-01 00:00:00.
    let at = "Mon, 01 Jan 2024 00:00:00 GMT".to_string();
    assert_eq!(
        cond("if-modified-since", at.clone())
            .await
            .unwrap()
            .status(),
        StatusCode::NOT_MODIFIED
    );
    assert_eq!(
        cond("if-unmodified-since", at).await.unwrap().status(),
        StatusCode::OK
    );
    let before = "Sun, 31 Dec 2023 23:59:59 GMT".to_string();
    assert_eq!(
        cond("if-unmodified-since", before).await.unwrap().status(),
        StatusCode::PRECONDITION_FAILED
    );
}

#[tokio::test]
async fn multipart_validation() {
    let s = server_with(|c| c.enforce_min_part_size = false).await;
    s.oss.create_bucket_if_missing("mpu").await.unwrap();
    let doc = s
        .http
        .post(s.url("/mpu/obj?uploads"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let id = xml_text(&doc, "UploadId")[0].to_string();
    let e1 = s
        .put(&format!("/mpu/obj?partNumber=1&uploadId={id}"), b"one")
        .await
        .headers()["etag"]
        .to_str()
        .unwrap()
        .to_string();
    let e2 = s
        .put(&format!("/mpu/obj?partNumber=2&uploadId={id}"), b"two")
        .await
        .headers()["etag"]
        .to_str()
        .unwrap()
        .to_string();
    let complete = |body: String| {
        s.http
            .post(s.url(&format!("/mpu/obj?uploadId={id}")))
            .body(body)
            .send()
    };
    let part =
        |n: u32, e: &str| format!("<Part><PartNumber>{n}</PartNumber><ETag>{e}</ETag></Part>");
    let r = complete(format!(
        "<CompleteMultipartUpload>{}{}</CompleteMultipartUpload>",
        part(2, &e2),
        part(1, &e1)
    ))
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.text().await.unwrap().contains("InvalidPartOrder"));
    let r = complete(format!(
        "<CompleteMultipartUpload>{}</CompleteMultipartUpload>",
        part(3, &e1)
    ))
    .await
    .unwrap();
    assert!(r.text().await.unwrap().contains("<Code>InvalidPart</Code>"));
    let r = complete("<CompleteMultipartUpload><Part>".into())
        .await
        .unwrap();
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("<Code>MalformedXML</Code>")
    );
    let r = s
        .http
        .post(s.url("/mpu/obj?uploadId=0000"))
        .body(format!(
            "<CompleteMultipartUpload>{}</CompleteMultipartUpload>",
            part(1, &e1)
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("<UploadId>0000</UploadId>")
    );
    // Only the listed parts make the object; an S3-style body (namespace, ETag first) works.
    let r = complete(format!(
        "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Part><ETag>{e2}</ETag><PartNumber>2</PartNumber></Part></CompleteMultipartUpload>"
    ))
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers()["etag"].to_str().unwrap().ends_with("-1\""));
    assert_eq!(s.oss.get_bytes("mpu", "obj").await.unwrap(), b"two");
}

#[tokio::test]
async fn writes_publish_changes_after_they_are_durable() {
    let s = server().await;
    let mut rx = s.oss.changes().subscribe();
    s.oss.create_bucket_if_missing("evt").await.unwrap();
    let r = s
        .http
        .put(s.url("/evt/a.txt"))
        .header("content-type", "text/plain")
        .header("x-oss-meta-k", "v")
        .body("hello")
        .send()
        .await
        .unwrap();
    let put_id = r.headers()["x-oss-request-id"]
        .to_str()
        .unwrap()
        .to_string();
    let c = rx.recv().await.unwrap();
    assert_eq!(c.event, ObjectEvent::PutObject);
    assert_eq!(c.event.name(), "ObjectCreated:PutObject");
    assert_eq!(
        (c.bucket.as_str(), c.key.as_str(), c.size, c.delta_size),
        ("evt", "a.txt", 5, 5)
    );
    assert_eq!(c.etag, "5D41402ABC4B2A76B9719D911017C592");
    assert_eq!(c.content_type, "text/plain");
    assert_eq!(c.user_meta.get("k").map(String::as_str), Some("v"));
    assert_eq!(c.request_id, put_id);
    assert_eq!(c.source_ip, "127.0.0.1");
    assert_eq!(c.time, fcemu_core::clock::VIRTUAL_EPOCH);
    // The object is readable by the time the notification arrives.
    assert_eq!(s.oss.get_bytes("evt", &c.key).await.unwrap(), b"hello");

    s.http
        .put(s.url("/evt/b.txt"))
        .header("x-oss-copy-source", "/evt/a.txt")
        .send()
        .await
        .unwrap();
    assert_eq!(
        rx.recv().await.unwrap().event.name(),
        "ObjectCreated:CopyObject"
    );
    s.http
        .post(s.url("/evt/log?append&position=0"))
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(
        rx.recv().await.unwrap().event.name(),
        "ObjectCreated:AppendObject"
    );
    let doc = s
        .http
        .post(s.url("/evt/m?uploads"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let id = xml_text(&doc, "UploadId")[0].to_string();
    s.put(&format!("/evt/m?partNumber=1&uploadId={id}"), b"p")
        .await;
    s.http
        .post(s.url(&format!("/evt/m?uploadId={id}")))
        .header("x-oss-complete-all", "yes")
        .send()
        .await
        .unwrap();
    let c = rx.recv().await.unwrap();
    assert_eq!(c.event.name(), "ObjectCreated:CompleteMultipartUpload");
    assert_eq!(c.size, 1);
    let r = s.http.delete(s.url("/evt/a.txt")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let c = rx.recv().await.unwrap();
    assert_eq!(
        (c.event.name(), c.key.as_str(), c.delta_size),
        ("ObjectRemoved:DeleteObject", "a.txt", -5)
    );
    // Deleting a missing key succeeds and publishes nothing; a failed write publishes nothing.
    s.http.delete(s.url("/evt/a.txt")).send().await.unwrap();
    let r = s
        .http
        .put(s.url("/evt/bad"))
        .header("content-md5", "AAAAAAAAAAAAAAAAAAAAAA==")
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    s.put("/evt/last", b"").await;
    assert_eq!(rx.recv().await.unwrap().key, "last");
}

#[tokio::test]
async fn domain_api_and_virtual_hosts() {
    let s = server().await;
    assert!(s.oss.create_bucket_if_missing("vhost").await.unwrap());
    assert!(!s.oss.create_bucket_if_missing("vhost").await.unwrap());
    s.oss
        .put_bytes("vhost", "dir/x", "body", Some("text/plain"))
        .await
        .unwrap();
    let addr = s.base.trim_start_matches("http://").to_string();
    for host in [
        format!("vhost.{addr}"),
        "vhost.localhost".into(),
        "vhost.oss-cn-hangzhou.aliyuncs.com".into(),
    ] {
        let r = s
            .http
            .get(s.url("/dir/x"))
            .header("host", host.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{host}");
        assert_eq!(r.text().await.unwrap(), "body");
    }
    let meta = s.oss.head_object("vhost", "dir/x").await.unwrap();
    assert_eq!(meta.size, 4);
    assert_eq!(meta.attrs.content_type(), "text/plain");
}

mod fuzz {
    //! Random requests (methods, sub-resources, headers, XML-ish bodies) through the router:
    //! nothing panics and nothing is answered with a 5xx.

    use super::*;
    use proptest::prelude::*;
    use tower::ServiceExt;

    const PATHS: &[&str] = &[
        "/",
        "/fuzz",
        "/fuzz/",
        "/fuzz/k",
        "/fuzz/dir%2Fk",
        "/fuzz//x",
        "/nob/k",
        "/Bad_/k",
    ];
    const QUERIES: &[&str] = &[
        "",
        "acl",
        "uploads",
        "uploadId=X",
        "uploadId=X&partNumber=1",
        "partNumber=0&uploadId=X",
        "delete",
        "append&position=0",
        "append&position=x",
        "tagging",
        "symlink",
        "objectMeta",
        "location",
        "bucketInfo",
        "stat",
        "list-type=2&continuation-token=%%%",
        "max-keys=-1",
        "encoding-type=bogus",
        "cors",
        "marker=%FF",
        "response-content-type=a%0Ab",
    ];
    const HEADERS: &[&str] = &[
        "range",
        "if-match",
        "if-none-match",
        "if-modified-since",
        "if-unmodified-since",
        "content-md5",
        "x-oss-copy-source",
        "x-oss-copy-source-range",
        "x-oss-metadata-directive",
        "x-oss-forbid-overwrite",
        "x-oss-symlink-target",
        "x-oss-object-acl",
        "x-oss-acl",
        "x-oss-storage-class",
        "x-oss-tagging",
        "content-encoding",
        "x-amz-content-sha256",
        "x-oss-complete-all",
        "content-type",
        "x-oss-meta-a",
        "authorization",
        "host",
        "x-oss-range-behavior",
    ];

    fn xmlish() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..200),
            "(<(Delete|Object|Key|Quiet|Tagging|TagSet|Tag|Value|CompleteMultipartUpload|Part|PartNumber|ETag)>|</[A-Za-z]{1,12}>|&[a-z#0-9]{0,5};|[a-z0-9 \"]{0,8}|<!\\[CDATA\\[x\\]\\]>){0,30}"
                .prop_map(String::into_bytes),
            "[0-9a-f]{1,3}(;chunk-signature=[0-9a-f]{0,4})?\r\n[a-z]{0,8}\r\n0\r\n(x:y\r\n)?\r\n".prop_map(String::into_bytes),
        ]
    }

    fn header_value() -> impl Strategy<Value = String> {
        prop_oneof![
            "bytes=[0-9-, ]{0,10}",
            "\"?[0-9A-F]{0,6}\"?|\\*",
            "/fuzz/[a-z%0-9]{0,6}",
            "[ -~]{0,24}",
            Just("aws-chunked".to_string()),
            Just("STREAMING-UNSIGNED-PAYLOAD-TRAILER".to_string()),
            Just("multipart/form-data; boundary=XX".to_string()),
            Just("OSS4-HMAC-SHA256 Credential=a/b".to_string()),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 160, ..ProptestConfig::default() })]
        #[test]
        fn random_requests_never_fail_internally(
            method in prop::sample::select(vec!["GET", "PUT", "POST", "DELETE", "HEAD"]),
            path in prop::sample::select(PATHS.to_vec()),
            query in prop::sample::select(QUERIES.to_vec()),
            headers in proptest::collection::vec((prop::sample::select(HEADERS.to_vec()), header_value()), 0..5),
            body in xmlish(),
            strict in any::<bool>(),
        ) {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async {
                let mut cfg = OssConfig::with_context(fcemu_core::ServiceContext::new(Arc::new(
                    DataDir::temporary("oss-fuzz").unwrap(),
                )));
                cfg.ctx.clock = Clock::deterministic();
                cfg.ctx.ids = IdGen::sequential();
                if strict {
                    cfg.ctx.strict_auth = Some(("a".into(), "b".into()));
                }
                let oss = Oss::open(cfg).unwrap();
                oss.create_bucket_if_missing("fuzz").await.unwrap();
                oss.put_bytes("fuzz", "k", "content", None).await.unwrap();
                let mut req = http::Request::builder()
                    .method(method)
                    .uri(format!("{path}?{query}"));
                for (name, value) in &headers {
                    req = req.header(*name, value.as_str());
                }
                let Ok(req) = req.body(axum::body::Body::from(body.clone())) else {
                    return;
                };
                let resp = oss.router().oneshot(req).await.unwrap();
                let status = resp.status();
                let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX).await;
                assert!(!status.is_server_error() || status == http::StatusCode::NOT_IMPLEMENTED,
                    "{method} {path}?{query} {headers:?} -> {status}");
                // A streamed body may fail mid-way only through an I/O error, never here.
                assert!(bytes.is_ok());
            });
        }
    }
}

#[tokio::test]
async fn state_survives_reopening_and_orphans_are_collected() {
    let root = DataDir::temporary("oss-reopen").unwrap();
    let dir = root.path().join("data");
    let open = || {
        let mut cfg = OssConfig::with_context(fcemu_core::ServiceContext::new(Arc::new(
            DataDir::persistent(&dir).unwrap(),
        )));
        cfg.enforce_min_part_size = false;
        Oss::open(cfg).unwrap()
    };
    let oss = open();
    oss.create_bucket_if_missing("keep").await.unwrap();
    oss.put_bytes("keep", "a", "first", None).await.unwrap();
    oss.put_bytes("keep", "a", "second", None).await.unwrap();
    let info = oss.request_info();
    let u = oss
        .initiate_upload("keep", "m", fcemu_oss::ObjectAttrs::default())
        .await
        .unwrap();
    oss.upload_part(
        "keep",
        "m",
        &u.upload_id,
        1,
        None,
        fcemu_oss::body_from_bytes("p1"),
        Default::default(),
    )
    .await
    .unwrap();
    drop(oss);
    // A blob written by an upload that crashed before its metadata was committed.
    let orphan = dir.join("oss/blobs/ab/abandoned");
    std::fs::write(&orphan, b"lost").unwrap();

    let oss = open();
    assert!(!orphan.exists());
    assert_eq!(oss.get_bytes("keep", "a").await.unwrap(), b"second");
    let m = oss
        .complete_upload("keep", "m", &u.upload_id, None, false, &info)
        .await
        .unwrap();
    assert_eq!(m.size, 2);
    assert_eq!(oss.get_bytes("keep", "m").await.unwrap(), b"p1");
    // Overwritten and completed-away blobs are gone: one file per live object.
    let files: usize = std::fs::read_dir(dir.join("oss/blobs"))
        .unwrap()
        .map(|d| std::fs::read_dir(d.unwrap().path()).unwrap().count())
        .sum();
    assert_eq!(files, 2);
}

#[tokio::test]
async fn reads_of_a_cached_object_see_every_later_write() {
    let s = server().await;
    assert_eq!(s.put("/cache", b"").await.status(), StatusCode::OK);
    let body = |path: &'static str| {
        let s = &s;
        async move { s.get(path).await.text().await.unwrap() }
    };
    s.put("/cache/k", b"one").await;
    s.put("/cache/src", b"copied").await;
    assert_eq!(body("/cache/k").await, "one");
    assert_eq!(body("/cache/k").await, "one");

    s.put("/cache/k", b"two").await;
    assert_eq!(body("/cache/k").await, "two");

    let r = s
        .http
        .put(s.url("/cache/k?tagging"))
        .body("<Tagging><TagSet><Tag><Key>a</Key><Value>1</Value></Tag></TagSet></Tagging>")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = s.get("/cache/k").await;
    assert_eq!(r.headers()["x-oss-tagging-count"], "1");

    let r = s
        .http
        .put(s.url("/cache/k"))
        .header("x-oss-copy-source", "/cache/src")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(body("/cache/k").await, "copied");

    let r = s
        .http
        .put(s.url("/cache/link?symlink"))
        .header("x-oss-symlink-target", "k")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(body("/cache/link").await, "copied");
    s.put("/cache/k", b"three").await;
    assert_eq!(body("/cache/link").await, "three");

    let r = s.http.delete(s.url("/cache/k")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(s.get("/cache/k").await.status(), StatusCode::NOT_FOUND);

    for (position, piece) in [(0, "ab"), (2, "cd")] {
        let r = s
            .http
            .post(s.url(&format!("/cache/k?append&position={position}")))
            .body(piece)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(
            body("/cache/k").await,
            if position == 0 { "ab" } else { "abcd" }
        );
    }
}

/// Reads one HTTP/1.1 response (head and a Content-Length body) and returns its status line
/// (empty when the server closed the connection).
async fn read_response(conn: &mut tokio::io::BufReader<tokio::net::TcpStream>) -> String {
    use tokio::io::{AsyncBufReadExt, AsyncReadExt};
    let mut status = String::new();
    if conn.read_line(&mut status).await.unwrap_or(0) == 0 {
        return String::new();
    }
    let mut length = 0;
    loop {
        let mut line = String::new();
        conn.read_line(&mut line).await.unwrap();
        if line == "\r\n" || line.is_empty() {
            break;
        }
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            length = v.trim().parse().unwrap();
        }
    }
    let mut body = vec![0; length];
    conn.read_exact(&mut body).await.unwrap();
    status.trim_end().to_string()
}

#[tokio::test]
async fn a_connection_survives_an_error_answered_before_the_body() {
    // The error comes from the headers alone; the client sends the body after reading it (as
    // clients that write headers and body separately may). The server must still read the
    // body: closing with it unread resets the connection, which can destroy the response.
    use tokio::io::AsyncWriteExt;
    let s = server().await;
    let addr = s.base.trim_start_matches("http://");
    let mut conn = tokio::io::BufReader::new(tokio::net::TcpStream::connect(addr).await.unwrap());
    conn.get_mut()
        .write_all(b"PUT /no-such-bucket/k HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n")
        .await
        .unwrap();
    assert!(read_response(&mut conn).await.contains(" 404 "));
    conn.get_mut().write_all(b"hello").await.unwrap();
    conn.get_mut()
        .write_all(b"GET /no-such-bucket/k HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    assert!(read_response(&mut conn).await.contains(" 404 "));
}

#[tokio::test]
async fn an_early_answer_to_expect_continue_leaves_the_connection_in_step() {
    // A client sending `Expect: 100-continue` waits before sending the body; answered at once
    // with an error (no `100 Continue`), it sends no body. Its next request on the connection
    // is then read as a request, or the connection is closed; never is it taken for a body.
    use tokio::io::AsyncWriteExt;
    let s = server().await;
    let addr = s.base.trim_start_matches("http://");
    let mut conn = tokio::io::BufReader::new(tokio::net::TcpStream::connect(addr).await.unwrap());
    conn.get_mut()
        .write_all(
            b"PUT /no-such-bucket/k HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nExpect: 100-continue\r\n\r\n",
        )
        .await
        .unwrap();
    let first = read_response(&mut conn).await;
    assert!(first.contains(" 404 "), "{first}");
    conn.get_mut()
        .write_all(b"GET /no-such-bucket/k HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let second = read_response(&mut conn).await;
    assert!(second.is_empty() || second.contains(" 404 "), "{second}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writes_are_announced_in_commit_order() {
    let s = server().await;
    s.oss.create_bucket_if_missing("race").await.unwrap();
    let mut rx = s.oss.changes().subscribe();
    for round in 0..5 {
        let writers: Vec<_> = (0..32)
            .map(|i| {
                let oss = s.oss.clone();
                tokio::spawn(async move {
                    oss.put_bytes("race", "k", format!("round {round} writer {i}"), None)
                        .await
                        .unwrap()
                })
            })
            .collect();
        for w in writers {
            w.await.unwrap();
        }
        let mut last = None;
        for _ in 0..32 {
            last = Some(rx.recv().await.unwrap());
        }
        // The last notification is of the write that committed last: the object as it is now.
        let now = s.oss.head_object("race", "k").await.unwrap();
        assert_eq!(last.unwrap().etag, now.etag, "round {round}");
    }
}

/// Object changes are published in commit order, under the store's lock: many tasks writing
/// one key at once see notifications whose size deltas chain exactly in the order they arrive.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writes_are_published_in_commit_order() {
    let oss = fcemu_oss::Oss::open(fcemu_oss::OssConfig::in_memory().unwrap()).unwrap();
    oss.create_bucket_if_missing("order").await.unwrap();
    let mut rx = oss.changes().subscribe();
    let mut tasks = Vec::new();
    for n in 1..=64usize {
        let oss = oss.clone();
        tasks.push(tokio::spawn(async move {
            oss.put_bytes("order", "k", vec![b'x'; n], None)
                .await
                .unwrap();
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let mut previous = 0i64;
    let mut count = 0;
    while let Ok(c) = rx.try_recv() {
        assert_eq!(
            c.delta_size,
            c.size as i64 - previous,
            "notification {count} out of commit order"
        );
        previous = c.size as i64;
        count += 1;
    }
    assert_eq!(count, 64);
    assert_eq!(
        oss.head_object("order", "k").await.unwrap().size as i64,
        previous
    );
}

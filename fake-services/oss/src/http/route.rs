//! Which operation a request names: a total function of method, level (service, bucket, object)
//! and the query's sub-resource.
//!
//! Every query key is either a *parameter* of an operation (`prefix`, `max-keys`, `partNumber`,
//! signature fields, `response-*`, ...) or a *sub-resource* (`acl`, `tagging`, `uploads`, ...).
//! A request whose sub-resource fcemu does not serve gets [`Route::NotImplemented`] and touches
//! nothing: an unknown sub-resource must never fall through to the plain bucket or object
//! operation (`DELETE /b?accessmonitor` deleting bucket `b` was exactly that fault). The only
//! leniency: object reads ignore unknown keys that carry a value (`GET /b/k?t=123`), as both
//! services do.

use http::Method;

use super::query::Query;

/// Where in the hierarchy a request points.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    /// No bucket: `GET /` is ListBuckets.
    Service,
    /// A bucket, no key.
    Bucket,
    /// An object key inside a bucket.
    Object,
}

/// One operation fcemu serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum Op {
    ListBuckets,
    // buckets
    CreateBucket,
    DeleteBucket,
    HeadBucket,
    ListObjects,
    ListObjectsV2,
    PutBucketAcl,
    GetBucketAcl,
    GetBucketLocation,
    GetBucketInfo,
    GetBucketStat,
    PutBucketTagging,
    GetBucketTagging,
    DeleteBucketTagging,
    PutBucketCors,
    GetBucketCors,
    DeleteBucketCors,
    ListUploads,
    ListLiveChannels,
    ListObjectVersions,
    DeleteMultiple,
    PostObject,
    // objects
    PutObject,
    CopyObject,
    AppendObject,
    GetObject,
    GetObjectMeta,
    GetObjectAttributes,
    DeleteObject,
    PutObjectAcl,
    GetObjectAcl,
    PutObjectTagging,
    GetObjectTagging,
    DeleteObjectTagging,
    PutSymlink,
    GetSymlink,
    InitiateUpload,
    UploadPart,
    UploadPartCopy,
    CompleteUpload,
    AbortUpload,
    ListParts,
}

/// The outcome of routing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Route {
    /// Serve this operation.
    Op(Op),
    /// A sub-resource (or combination) fcemu does not serve: 501, nothing touched.
    NotImplemented(String),
    /// A served sub-resource with a method it has no operation for: 405.
    MethodNotAllowed,
    /// A parameter that needs another one (`partNumber` without `uploadId`): 400.
    MissingParameter(&'static str, &'static str),
}

/// Request facts besides method and query that pick the operation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Shape {
    /// An `x-oss-copy-source` / `x-amz-copy-source` header.
    pub copy_source: bool,
    /// A `multipart/form-data` body (PostObject).
    pub form: bool,
}

/// Sub-resources of OSS and S3 that fcemu does not emulate (any other unknown one is treated
/// the same; these are also refused on object reads whatever their value).
pub const UNSUPPORTED: &[&str] = &[
    "lifecycle",
    "website",
    "logging",
    "referer",
    "policy",
    "versioning",
    "encryption",
    "worm",
    "wormId",
    "wormExtend",
    "inventory",
    "replication",
    "qos",
    "qosInfo",
    "restore",
    "cname",
    "transferAcceleration",
    "requestPayment",
    "metaQuery",
    "accessPoint",
    "publicAccessBlock",
    "resourceGroup",
    "style",
    "asyncFetch",
    "x-oss-process",
    "vod",
    "img",
    "callback",
    "notification",
    "object-lock",
    "retention",
    "legal-hold",
    "ownershipControls",
    "accelerate",
    "analytics",
    "metrics",
    "intelligent-tiering",
    "x-oss-async-process",
    "torrent",
];

/// Query keys that are parameters of some operation, never sub-resources (exact names).
const PARAMETERS: &[&str] = &[
    // listing
    "prefix",
    "marker",
    "max-keys",
    "delimiter",
    "encoding-type",
    "list-type",
    "continuation-token",
    "start-after",
    "fetch-owner",
    "key-marker",
    "upload-id-marker",
    "version-id-marker",
    "max-uploads",
    "max-parts",
    "part-number-marker",
    "max-buckets",
    "bucket-region",
    "resource-group-id",
    "tag-key",
    "tag-value",
    // objects and parts
    "partNumber",
    "position",
    "versionId",
    "response-content-type",
    "response-content-language",
    "response-cache-control",
    "response-expires",
    "response-content-disposition",
    "response-content-encoding",
    // signatures and presigned URLs
    "Signature",
    "OSSAccessKeyId",
    "AWSAccessKeyId",
    "Expires",
    "security-token",
    "x-oss-signature-version",
    "x-oss-credential",
    "x-oss-date",
    "x-oss-expires",
    "x-oss-signature",
    "x-oss-additional-headers",
    "x-oss-security-token",
    "x-oss-traffic-limit",
    "x-oss-request-payer",
    "x-oss-ac-source-ip",
    "x-oss-ac-subnet-mask",
    "x-oss-ac-vpc-id",
    "x-oss-ac-forward-allow",
    // the AWS SDKs' operation hint
    "x-id",
];

/// Whether a query key is a parameter rather than a sub-resource.
pub fn is_parameter(key: &str) -> bool {
    PARAMETERS.contains(&key)
        || key
            .get(..6)
            .is_some_and(|p| p.eq_ignore_ascii_case("x-amz-"))
}

/// The sub-resources named by a query, in order, each once.
pub fn sub_resources(q: &Query) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::new();
    for (k, _) in &q.pairs {
        if !is_parameter(k) && !out.contains(&k.as_str()) {
            out.push(k);
        }
    }
    out
}

/// Picks the operation for a request. Total: every input gets a [`Route`], and only a request
/// without a sub-resource reaches create/list/delete of a bucket or put/delete of an object.
pub fn route(method: &Method, level: Level, q: &Query, shape: Shape) -> Route {
    let mut subs = sub_resources(q);
    if level == Level::Object && (method == Method::GET || method == Method::HEAD) {
        // Reads ignore unknown keys with a value (cache busters, tracking parameters).
        subs.retain(|s| {
            is_object_sub_resource(s) || UNSUPPORTED.contains(s) || q.non_empty(s).is_none()
        });
    }
    let sub = match subs.as_slice() {
        [] => None,
        [one] => Some(*one),
        [first, second, ..] => {
            return Route::NotImplemented(format!(
                "A request with both the {first} and the {second} sub-resource"
            ));
        }
    };
    let op = match level {
        Level::Service => service_op(method, sub),
        Level::Bucket => bucket_op(method, sub, q, shape),
        Level::Object => object_op(method, sub, q, shape),
    };
    match (op, sub) {
        (Some(r), _) => r,
        (None, Some(s)) if served(level, s) => Route::MethodNotAllowed,
        (None, Some(s)) => Route::NotImplemented(format!("The {s} sub-resource")),
        (None, None) => Route::MethodNotAllowed,
    }
}

/// Sub-resources some operation at `level` serves (for 405 versus 501).
fn served(level: Level, sub: &str) -> bool {
    match level {
        Level::Service => false,
        Level::Bucket => matches!(
            sub,
            "acl"
                | "location"
                | "bucketInfo"
                | "stat"
                | "tagging"
                | "cors"
                | "uploads"
                | "live"
                | "versions"
                | "delete"
        ),
        Level::Object => is_object_sub_resource(sub),
    }
}

fn is_object_sub_resource(sub: &str) -> bool {
    matches!(
        sub,
        "acl"
            | "tagging"
            | "symlink"
            | "uploadId"
            | "uploads"
            | "objectMeta"
            | "append"
            | "attributes"
    )
}

fn service_op(method: &Method, sub: Option<&str>) -> Option<Route> {
    match (method, sub) {
        (&Method::GET, None) => Some(Route::Op(Op::ListBuckets)),
        _ => None,
    }
}

fn bucket_op(method: &Method, sub: Option<&str>, q: &Query, shape: Shape) -> Option<Route> {
    use Op::*;
    let op = match (method.as_str(), sub) {
        ("PUT", None) => CreateBucket,
        ("PUT", Some("acl")) => PutBucketAcl,
        ("PUT", Some("tagging")) => PutBucketTagging,
        ("PUT", Some("cors")) => PutBucketCors,
        ("DELETE", None) => DeleteBucket,
        ("DELETE", Some("tagging")) => DeleteBucketTagging,
        ("DELETE", Some("cors")) => DeleteBucketCors,
        ("HEAD", None) => HeadBucket,
        ("GET", None) if q.get("list-type") == Some("2") => ListObjectsV2,
        ("GET", None) => ListObjects,
        ("GET", Some("acl")) => GetBucketAcl,
        ("GET", Some("location")) => GetBucketLocation,
        ("GET", Some("bucketInfo")) => GetBucketInfo,
        ("GET", Some("stat")) => GetBucketStat,
        ("GET", Some("tagging")) => GetBucketTagging,
        ("GET", Some("cors")) => GetBucketCors,
        ("GET", Some("uploads")) => ListUploads,
        ("GET", Some("live")) => ListLiveChannels,
        ("GET", Some("versions")) => ListObjectVersions,
        ("POST", Some("delete")) => DeleteMultiple,
        ("POST", None) if shape.form => PostObject,
        _ => return None,
    };
    Some(Route::Op(op))
}

fn object_op(method: &Method, sub: Option<&str>, q: &Query, shape: Shape) -> Option<Route> {
    use Op::*;
    let op = match (method.as_str(), sub) {
        ("PUT", None) if q.has("partNumber") => {
            return Some(Route::MissingParameter("uploadId", "partNumber"));
        }
        ("PUT", None) if shape.copy_source => CopyObject,
        ("PUT", None) => PutObject,
        ("PUT", Some("acl")) => PutObjectAcl,
        ("PUT", Some("tagging")) => PutObjectTagging,
        ("PUT", Some("symlink")) => PutSymlink,
        ("PUT", Some("uploadId")) if !q.has("partNumber") => {
            return Some(Route::MissingParameter("partNumber", "uploadId"));
        }
        ("PUT", Some("uploadId")) if shape.copy_source => UploadPartCopy,
        ("PUT", Some("uploadId")) => UploadPart,
        ("GET" | "HEAD", None) => GetObject,
        ("GET" | "HEAD", Some("objectMeta")) => GetObjectMeta,
        ("GET", Some("attributes")) => GetObjectAttributes,
        ("GET", Some("acl")) => GetObjectAcl,
        ("GET", Some("tagging")) => GetObjectTagging,
        ("GET", Some("symlink")) => GetSymlink,
        ("GET", Some("uploadId")) => ListParts,
        ("DELETE", None) => DeleteObject,
        ("DELETE", Some("tagging")) => DeleteObjectTagging,
        ("DELETE", Some("uploadId")) => AbortUpload,
        ("POST", Some("uploads")) => InitiateUpload,
        ("POST", Some("uploadId")) => CompleteUpload,
        ("POST", Some("append")) => AppendObject,
        _ => return None,
    };
    Some(Route::Op(op))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn r(method: &str, level: Level, query: &str) -> Route {
        route(
            &Method::from_bytes(method.as_bytes()).unwrap(),
            level,
            &Query::parse(query),
            Shape::default(),
        )
    }

    #[test]
    fn plain_requests_reach_their_operations() {
        assert_eq!(r("GET", Level::Service, ""), Route::Op(Op::ListBuckets));
        assert_eq!(r("DELETE", Level::Bucket, ""), Route::Op(Op::DeleteBucket));
        assert_eq!(
            r("GET", Level::Bucket, "list-type=2&prefix=a&max-keys=3"),
            Route::Op(Op::ListObjectsV2)
        );
        assert_eq!(
            r("PUT", Level::Object, "partNumber=1&uploadId=u"),
            Route::Op(Op::UploadPart)
        );
        assert_eq!(
            r("POST", Level::Object, "append&position=0"),
            Route::Op(Op::AppendObject)
        );
        assert_eq!(
            r(
                "GET",
                Level::Object,
                "OSSAccessKeyId=a&Expires=1&Signature=s&response-content-type=x"
            ),
            Route::Op(Op::GetObject)
        );
        assert_eq!(
            r(
                "GET",
                Level::Object,
                "X-Amz-Algorithm=a&X-Amz-Expires=9&x-id=GetObject"
            ),
            Route::Op(Op::GetObject)
        );
        assert_eq!(r("GET", Level::Object, "t=123"), Route::Op(Op::GetObject));
    }

    #[test]
    fn unknown_sub_resources_touch_nothing() {
        for q in ["tagging", "accessmonitor", "httpsConfig", "foo", "foo=bar"] {
            let q = q.to_string();
            for m in ["DELETE", "PUT", "POST"] {
                let got = r(m, Level::Bucket, &q);
                assert!(
                    !matches!(
                        got,
                        Route::Op(Op::DeleteBucket | Op::CreateBucket | Op::ListObjects)
                    ),
                    "{m} ?{q}: {got:?}"
                );
            }
        }
        assert!(matches!(
            r("DELETE", Level::Bucket, "lifecycle"),
            Route::NotImplemented(_)
        ));
        assert!(matches!(
            r("PUT", Level::Object, "foo"),
            Route::NotImplemented(_)
        ));
        assert!(matches!(
            r("DELETE", Level::Object, "foo=1"),
            Route::NotImplemented(_)
        ));
        assert_eq!(r("DELETE", Level::Bucket, "acl"), Route::MethodNotAllowed);
        assert!(matches!(
            r("PUT", Level::Object, "partNumber=1"),
            Route::MissingParameter(..)
        ));
    }

    fn name() -> impl Strategy<Value = String> {
        prop_oneof![
            proptest::sample::select(vec![
                "acl",
                "tagging",
                "uploads",
                "uploadId",
                "delete",
                "location",
                "bucketInfo",
                "stat",
                "live",
                "versions",
                "cors",
                "lifecycle",
                "accessmonitor",
                "httpsConfig",
                "responseHeader",
                "policyStatus",
                "symlink",
                "append",
                "objectMeta",
                "restore",
                "x-oss-process",
                "x-oss-async-process",
            ])
            .prop_map(String::from),
            "[a-zA-Z][a-zA-Z0-9-]{0,12}",
        ]
    }

    proptest! {
        /// No request with a sub-resource ever reaches bucket create, list or delete, nor object
        /// put or delete.
        #[test]
        fn sub_resources_never_reach_plain_operations(
            sub in name(),
            value in prop_oneof![Just(String::new()), "[a-z0-9]{1,4}"],
            params in proptest::collection::vec(proptest::sample::select(PARAMETERS.to_vec()), 0..3),
            method in proptest::sample::select(vec!["GET", "HEAD", "PUT", "POST", "DELETE", "PATCH", "OPTIONS"]),
            copy_source in any::<bool>(),
            form in any::<bool>(),
        ) {
            prop_assume!(!is_parameter(&sub));
            let mut query = format!("{sub}={value}");
            for p in params {
                query.push_str(&format!("&{p}=1"));
            }
            let q = Query::parse(&query);
            let m = Method::from_bytes(method.as_bytes()).unwrap();
            let shape = Shape { copy_source, form };
            for level in [Level::Service, Level::Bucket, Level::Object] {
                let got = route(&m, level, &q, shape);
                let plain = matches!(
                    got,
                    Route::Op(
                        Op::CreateBucket
                            | Op::DeleteBucket
                            | Op::ListObjects
                            | Op::ListObjectsV2
                            | Op::ListBuckets
                            | Op::PostObject
                            | Op::PutObject
                            | Op::CopyObject
                            | Op::DeleteObject
                    )
                );
                // An object read with an unknown valued key is a read.
                let lenient_read = level == Level::Object
                    && got == Route::Op(Op::GetObject)
                    && !value.is_empty()
                    && !is_object_sub_resource(&sub)
                    && !UNSUPPORTED.contains(&sub.as_str());
                prop_assert!(!plain || lenient_read, "{method} {level:?} ?{query}: {got:?}");
            }
        }
    }
}

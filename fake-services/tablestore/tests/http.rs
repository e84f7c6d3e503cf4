//! Black-box tests of the Table Store router, served on 127.0.0.1:0: response headers and
//! signatures, error bodies and statuses for hostile input, streams and the change feed,
//! persistence across reopen.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use fcemu_core::auth::{base64, hmac_sha1};
use fcemu_core::{Clock, DataDir, IdGen};
use fcemu_tablestore::http::proto;
use fcemu_tablestore::model::Value;
use fcemu_tablestore::plainbuffer::{PbCell, PbRow, Writer, decode_rows};
use fcemu_tablestore::{ColumnChangeKind, Ots, OtsConfig, RowAction};
use md5::Digest;
use prost::Message;

const ID: &str = "test-id";
const SECRET: &str = "test-secret";

struct Server {
    ots: Ots,
    base: String,
    http: reqwest::Client,
}

async fn serve(ots: Ots) -> Server {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let router = ots.router();
    tokio::spawn(async move { axum::serve(listener, router).await });
    Server {
        ots,
        base,
        http: reqwest::Client::new(),
    }
}

fn config(data: Arc<DataDir>) -> OtsConfig {
    let mut cfg = OtsConfig::with_context(fcemu_core::ServiceContext::new(data));
    cfg.ctx.clock = Clock::deterministic();
    cfg.ctx.ids = IdGen::sequential();
    cfg.known_secrets.push(SECRET.into());
    cfg
}

async fn server() -> Server {
    serve(Ots::open(config(Arc::new(DataDir::temporary("ots-test").unwrap()))).unwrap()).await
}

fn sign(action: &str, headers: &[(&str, String)], secret: &str) -> String {
    let mut canon: Vec<String> = headers.iter().map(|(n, v)| format!("{n}:{v}")).collect();
    canon.sort();
    let to_sign = format!("/{action}\nPOST\n\n{}\n", canon.join("\n"));
    base64(&hmac_sha1(secret.as_bytes(), to_sign.as_bytes()))
}

struct Reply {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Vec<u8>,
}

impl Reply {
    fn error(&self) -> (u16, String, String) {
        let e = proto::Error::decode(self.body.as_slice()).unwrap();
        (self.status, e.code, e.message.unwrap_or_default())
    }
}

impl Server {
    async fn raw(&self, action: &str, body: Vec<u8>, secret: Option<&str>) -> Reply {
        let md5 = B64.encode(md5::Md5::digest(&body));
        let now = time::OffsetDateTime::now_utc();
        let date = format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.000Z",
            now.year(),
            u8::from(now.month()),
            now.day(),
            now.hour(),
            now.minute(),
            now.second()
        );
        let headers = vec![
            ("x-ots-date", date),
            ("x-ots-apiversion", "2015-12-31".to_string()),
            ("x-ots-accesskeyid", ID.to_string()),
            ("x-ots-instancename", "inst".to_string()),
            ("x-ots-contentmd5", md5),
        ];
        let mut req = self.http.post(format!("{}/{action}", self.base)).body(body);
        if let Some(secret) = secret {
            req = req.header("x-ots-signature", sign(action, &headers, secret));
        }
        for (n, v) in headers {
            req = req.header(n, v);
        }
        let r = req.send().await.unwrap();
        Reply {
            status: r.status().as_u16(),
            headers: r.headers().clone(),
            body: r.bytes().await.unwrap().to_vec(),
        }
    }

    async fn call(&self, action: &str, msg: impl Message) -> Reply {
        self.raw(action, msg.encode_to_vec(), Some(SECRET)).await
    }

    async fn ok(&self, action: &str, msg: impl Message) -> Vec<u8> {
        let r = self.call(action, msg).await;
        assert_eq!(r.status, 200, "{action}: {:?}", r.error());
        r.body
    }

    async fn create(&self, name: &str, stream: bool) {
        self.ok(
            "CreateTable",
            proto::CreateTableRequest {
                table_meta: Some(proto::TableMeta {
                    table_name: name.into(),
                    primary_key: vec![proto::PrimaryKeySchema {
                        name: "id".into(),
                        r#type: 2,
                        option: None,
                    }],
                    defined_column: vec![],
                }),
                reserved_throughput: None,
                table_options: None,
                index_metas: vec![],
                stream_spec: stream.then_some(proto::StreamSpecification {
                    enable_stream: true,
                    expiration_time: Some(24),
                    columns_to_get: vec![],
                }),
            },
        )
        .await;
    }
}

fn row_buf(id: &str, cells: Vec<PbCell>, delete: bool) -> Vec<u8> {
    let mut w = Writer::new();
    w.row(&PbRow {
        primary_key: vec![PbCell::plain("id", Value::String(id.into()))],
        cells,
        delete_marker: delete,
        seq_info: None,
    });
    w.finish()
}

fn write(table: &str, row: Vec<u8>, existence: i32) -> proto::WriteRowRequest {
    proto::WriteRowRequest {
        table_name: Some(table.into()),
        row: Some(row),
        condition: Some(proto::Condition {
            row_existence: existence,
            column_condition: None,
        }),
        return_content: None,
        transaction_id: None,
    }
}

#[tokio::test]
async fn responses_carry_every_header_and_a_valid_signature() {
    let s = server().await;
    let r = s.call("ListTable", proto::Empty {}).await;
    assert_eq!(r.status, 200);
    let h = |n: &str| r.headers[n].to_str().unwrap().to_string();
    assert_eq!(h("x-ots-contentmd5"), B64.encode(md5::Md5::digest(&r.body)));
    assert_eq!(h("x-ots-contenttype"), "protocol buffer");
    assert_eq!(h("x-ots-requestid"), "00000000-0000-0000-0000-000000000001");
    // The response date is the request's own (the client's clock, which the SDKs compare it
    // with), here second-precision with `.000Z`.
    let date = h("x-ots-date");
    assert_eq!(date.len(), "2024-01-01T00:00:00.000Z".len(), "{date}");
    assert!(date.ends_with(".000Z"), "{date}");
    // Recompute the signature the way the SDK does.
    let mut canon: Vec<String> = r
        .headers
        .iter()
        .filter(|(n, _)| n.as_str().starts_with("x-ots-"))
        .map(|(n, v)| format!("{}:{}", n.as_str(), v.to_str().unwrap().trim()))
        .collect();
    canon.sort();
    let to_sign = format!("{}\n/ListTable", canon.join("\n"));
    let sig = base64(&hmac_sha1(SECRET.as_bytes(), to_sign.as_bytes()));
    assert_eq!(h("authorization"), format!("OTS {ID}:{sig}"));

    // Errors are signed too.
    let r = s
        .call(
            "DescribeTable",
            proto::TableNameRequest {
                table_name: Some("missing".into()),
            },
        )
        .await;
    assert!(r.headers.contains_key("authorization"));
    assert_eq!(
        hex(&r.body),
        "0a114f54534f626a6563744e6f744578697374121f526571756573746564207461626c6520646f6573206e6f742065786973742e"
    );
    assert_eq!(r.status, 404);
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[tokio::test]
async fn authentication_modes() {
    let s = server().await;
    // Unsigned requests are served, unsigned.
    let r = s.raw("ListTable", vec![], None).await;
    assert_eq!(r.status, 200);
    assert!(!r.headers.contains_key("authorization"));
    // An unknown secret cannot be answered with a valid signature.
    let r = s.raw("ListTable", vec![], Some("who-knows")).await;
    assert_eq!(r.error().0, 403);
    assert_eq!(r.error().1, "OTSAuthFailed");
    // A secret equal to the id works.
    let r = s.raw("ListTable", vec![], Some(ID)).await;
    assert_eq!(r.status, 200);

    let mut cfg = config(Arc::new(DataDir::temporary("ots-strict").unwrap()));
    cfg.ctx.strict_auth = Some((ID.into(), SECRET.into()));
    let strict = serve(Ots::open(cfg).unwrap()).await;
    assert_eq!(
        strict.raw("ListTable", vec![], None).await.error().1,
        "OTSAuthFailed"
    );
    let r = strict.raw("ListTable", vec![], Some(ID)).await;
    assert_eq!(
        r.error(),
        (403, "OTSAuthFailed".into(), "Signature mismatch.".into())
    );
    assert_eq!(
        strict.raw("ListTable", vec![], Some(SECRET)).await.status,
        200
    );
}

#[tokio::test]
async fn hostile_input_gets_protobuf_errors() {
    let s = server().await;
    s.create("t", false).await;
    // Not protobuf.
    let r = s.raw("GetRow", vec![0xff, 0xff, 0xff], Some(SECRET)).await;
    assert_eq!(
        (r.error().0, r.error().1.as_str()),
        (400, "OTSParameterInvalid")
    );
    // PlainBuffer with a flipped bit, a truncated one, a huge length.
    let mut pk = row_buf("a", vec![], false);
    let n = pk.len();
    pk[n - 1] ^= 0x40;
    for bad in [pk.clone(), pk[..n - 3].to_vec(), {
        let mut b = vec![0x75, 0, 0, 0, 1, 3, 4];
        b.extend_from_slice(&u32::MAX.to_le_bytes());
        b
    }] {
        let r = s
            .call(
                "GetRow",
                proto::GetRowRequest {
                    table_name: Some("t".into()),
                    primary_key: Some(bad),
                    max_versions: Some(1),
                    ..Default::default()
                },
            )
            .await;
        assert_eq!(
            (r.error().0, r.error().1.as_str()),
            (400, "OTSParameterInvalid")
        );
    }
    // Too large, wrong method, unknown action, no instance.
    let r = s
        .raw("PutRow", vec![0; 5 * 1024 * 1024 + 1], Some(SECRET))
        .await;
    assert_eq!(
        (r.error().0, r.error().1.as_str()),
        (413, "OTSRequestBodyTooLarge")
    );
    let r = s
        .http
        .get(format!("{}/ListTable", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 405);
    let r = s.call("Frobnicate", proto::Empty {}).await;
    assert_eq!(r.error().0, 400);
    let r = s
        .http
        .post(format!("{}/ListTable", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    // A deeply nested filter is refused, not recursed into.
    let mut f = proto::Filter {
        r#type: Some(1),
        filter: Some(vec![]),
    };
    for _ in 0..100 {
        f = proto::Filter {
            r#type: Some(2),
            filter: Some(
                proto::CompositeColumnValueFilter {
                    combinator: Some(2),
                    sub_filters: vec![f],
                }
                .encode_to_vec(),
            ),
        };
    }
    let r = s
        .call(
            "GetRow",
            proto::GetRowRequest {
                table_name: Some("t".into()),
                primary_key: Some(row_buf("a", vec![], false)),
                max_versions: Some(1),
                filter: Some(f.encode_to_vec()),
                ..Default::default()
            },
        )
        .await;
    assert_eq!(r.error().1, "OTSParameterInvalid");
}

#[tokio::test]
async fn streams_publish_changes_and_serve_records() {
    let s = server().await;
    let mut changes = s.ots.changes().subscribe();
    s.create("plain", false).await;
    s.create("feed", true).await;

    s.ok(
        "PutRow",
        write(
            "plain",
            row_buf("x", vec![PbCell::plain("a", Value::Integer(1))], false),
            0,
        ),
    )
    .await;
    s.ok(
        "PutRow",
        write(
            "feed",
            row_buf("r1", vec![PbCell::plain("a", Value::Integer(1))], false),
            0,
        ),
    )
    .await;
    let update = row_buf(
        "r1",
        vec![
            PbCell::plain("b", Value::String("x".into())),
            PbCell {
                name: "a".into(),
                value: None,
                op: Some(1),
                timestamp: None,
            },
        ],
        false,
    );
    s.ok("UpdateRow", write("feed", update, 1)).await;
    s.ok("DeleteRow", write("feed", row_buf("r1", vec![], true), 1))
        .await;

    let plain = changes.try_recv().unwrap();
    assert_eq!((plain.table.as_str(), plain.streamed), ("plain", false));
    let put = changes.try_recv().unwrap();
    assert_eq!(
        (put.instance.as_str(), put.table.as_str(), put.streamed),
        ("inst", "feed", true)
    );
    assert_eq!(put.record.action, RowAction::PutRow);
    assert_eq!(
        put.record.primary_key,
        vec![("id".to_string(), Value::String("r1".into()))]
    );
    assert_eq!(put.record.columns.len(), 1);
    assert_eq!(put.record.columns[0].kind, ColumnChangeKind::Put);
    assert_eq!(put.record.columns[0].value, Some(Value::Integer(1)));
    assert_eq!(put.record.columns[0].timestamp, Some(1_704_067_200_000));
    assert_eq!(put.record.sequence.timestamp_us, 1_704_067_200_000_000);
    let upd = changes.try_recv().unwrap();
    assert_eq!(upd.record.action, RowAction::UpdateRow);
    // Same (virtual) commit time: the row index tells the records apart.
    assert_eq!(
        (put.record.sequence.row_index, upd.record.sequence.row_index),
        (0, 1)
    );
    let kinds: Vec<_> = upd.record.columns.iter().map(|c| c.kind).collect();
    assert_eq!(
        kinds,
        vec![ColumnChangeKind::Put, ColumnChangeKind::DeleteAllVersions]
    );
    let del = changes.try_recv().unwrap();
    assert_eq!(del.record.action, RowAction::DeleteRow);
    assert!(del.record.columns.is_empty());
    assert!(
        changes.try_recv().is_err(),
        "the table without a stream published nothing"
    );

    // The Stream API serves the same records.
    let list = proto::ListStreamResponse::decode(
        s.ok("ListStream", proto::TableNameRequest { table_name: None })
            .await
            .as_slice(),
    )
    .unwrap();
    assert_eq!(list.streams.len(), 1);
    let stream_id = list.streams[0].stream_id.clone();
    let desc = proto::DescribeStreamResponse::decode(
        s.ok(
            "DescribeStream",
            proto::DescribeStreamRequest {
                stream_id: Some(stream_id.clone()),
                ..Default::default()
            },
        )
        .await
        .as_slice(),
    )
    .unwrap();
    assert_eq!((desc.table_name.as_str(), desc.stream_status), ("feed", 2));
    let it = proto::GetShardIteratorResponse::decode(
        s.ok(
            "GetShardIterator",
            proto::GetShardIteratorRequest {
                stream_id: Some(stream_id),
                shard_id: Some(desc.shards[0].shard_id.clone()),
                timestamp: None,
            },
        )
        .await
        .as_slice(),
    )
    .unwrap()
    .shard_iterator;
    let mut actions = Vec::new();
    let mut it = Some(it);
    for _ in 0..4 {
        let page = proto::GetStreamRecordResponse::decode(
            s.ok(
                "GetStreamRecord",
                proto::GetStreamRecordRequest {
                    shard_iterator: it.take(),
                    limit: Some(2),
                },
            )
            .await
            .as_slice(),
        )
        .unwrap();
        for r in &page.stream_records {
            let rows = decode_rows(&r.record).unwrap();
            assert!(rows[0].seq_info.is_some());
            actions.push(r.action_type);
        }
        it = page.next_shard_iterator;
        assert!(it.is_some(), "an open shard always has a next iterator");
    }
    assert_eq!(actions, vec![1, 2, 3]);

    // A stream can be switched on for a table created without one.
    let mut changes = s.ots.changes().subscribe();
    let t = s.ots.set_stream("inst", "plain", true, None).await.unwrap();
    assert_eq!(t.stream.unwrap().expiration_hours, 24);
    s.ok("DeleteRow", write("plain", row_buf("x", vec![], true), 0))
        .await;
    let del = changes.try_recv().unwrap();
    assert_eq!(
        (del.table.as_str(), del.record.action),
        ("plain", RowAction::DeleteRow)
    );
    let r = s
        .call(
            "GetStreamRecord",
            proto::GetStreamRecordRequest {
                shard_iterator: Some("garbage".into()),
                limit: None,
            },
        )
        .await;
    assert_eq!(r.error().1, "OTSTrimmedDataAccess");
}

#[tokio::test]
async fn rows_survive_reopening() {
    let data = Arc::new(DataDir::temporary("ots-reopen").unwrap());
    {
        let s = serve(Ots::open(config(data.clone())).unwrap()).await;
        s.create("t", true).await;
        let cells = vec![PbCell {
            timestamp: Some(1_704_067_100_000),
            ..PbCell::plain("v", Value::Binary(vec![0, 1, 2]))
        }];
        s.ok("PutRow", write("t", row_buf("k", cells, false), 2))
            .await;
    }
    let s = serve(Ots::open(config(data)).unwrap()).await;
    let body = s
        .ok(
            "GetRow",
            proto::GetRowRequest {
                table_name: Some("t".into()),
                primary_key: Some(row_buf("k", vec![], false)),
                max_versions: Some(1),
                ..Default::default()
            },
        )
        .await;
    let resp = proto::GetRowResponse::decode(body.as_slice()).unwrap();
    let rows = decode_rows(&resp.row).unwrap();
    assert_eq!(
        rows[0].cells,
        vec![PbCell {
            timestamp: Some(1_704_067_100_000),
            ..PbCell::plain("v", Value::Binary(vec![0, 1, 2]))
        }]
    );
    let desc = proto::DescribeTableResponse::decode(
        s.ok(
            "DescribeTable",
            proto::TableNameRequest {
                table_name: Some("t".into()),
            },
        )
        .await
        .as_slice(),
    )
    .unwrap();
    assert!(desc.stream_details.unwrap().enable_stream);

    let rows = s.ots.all_rows("inst", "t").await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(
        rows[0].primary_key,
        vec![("id".to_string(), Value::String("k".into()))]
    );
    s.ots.reset().await.unwrap();
    assert!(s.ots.list_tables("inst").await.unwrap().is_empty());
}

#[tokio::test]
async fn get_row_response_is_byte_for_byte_the_reference() {
    let mut cfg = config(Arc::new(DataDir::temporary("ots-bytes").unwrap()));
    cfg.ctx.clock =
        Clock::virtual_at(time::OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap());
    let s = serve(Ots::open(cfg).unwrap()).await;
    s.create("t", false).await;
    // PutRow body as the SDK encodes it (reference §2.5), timestamps from the server clock.
    let put = hex_bytes(
        "7500000001030402000000696405090000000304000000726f77310a1c02030405000000636f756e740509000000002a000000000000000a380909",
    );
    s.ok("PutRow", write("t", put, 0)).await;
    let body = s
        .ok(
            "GetRow",
            proto::GetRowRequest {
                table_name: Some("t".into()),
                primary_key: Some(hex_bytes(
                    "7500000001030402000000696405090000000304000000726f77310a1c09ab",
                )),
                max_versions: Some(1),
                ..Default::default()
            },
        )
        .await;
    assert_eq!(
        hex(&body),
        "0a060a040801100012447500000001030402000000696405090000000304000000726f77310a1c02030405000000636f756e740509000000002a00000000000000070068e5cf8b0100000a5c09a8"
    );
}

fn hex_bytes(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

#[tokio::test]
async fn a_stream_policy_and_the_chain_depth_reach_the_change_feed() {
    let mut s = server().await;
    s.ots
        .set_stream_policy(Arc::new(|instance: &str, table: &str| {
            instance == "inst" && table == "watched"
        }));
    s.create("watched", false).await;
    s.create("ignored", false).await;
    let mut changes = s.ots.changes().subscribe();
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(fcemu_core::CHAIN_DEPTH_HEADER, "2".parse().unwrap());
    s.http = reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .unwrap();
    for table in ["ignored", "watched"] {
        let cells = vec![PbCell::plain("a", Value::Integer(1))];
        s.ok("PutRow", write(table, row_buf("r", cells, false), 0))
            .await;
    }
    let ignored = changes.try_recv().unwrap();
    assert_eq!(
        (ignored.table.as_str(), ignored.streamed),
        ("ignored", false)
    );
    let change = changes.try_recv().unwrap();
    assert_eq!(
        (change.table.as_str(), change.cause.depth, change.streamed),
        ("watched", 2, true)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writes_are_announced_in_commit_order() {
    let s = Arc::new(server().await);
    s.create("feed", true).await;
    let mut changes = s.ots.changes().subscribe();
    let writers: Vec<_> = (0..48)
        .map(|i| {
            let s = s.clone();
            tokio::spawn(async move {
                let cells = vec![PbCell::plain("n", Value::Integer(i))];
                s.ok("PutRow", write("feed", row_buf("same", cells, false), 0))
                    .await;
            })
        })
        .collect();
    for w in writers {
        w.await.unwrap();
    }
    let mut seen = Vec::new();
    for _ in 0..48 {
        let c = changes.try_recv().unwrap();
        seen.push((c.record.sequence.timestamp_us, c.record.sequence.row_index));
    }
    let mut sorted = seen.clone();
    sorted.sort();
    assert_eq!(seen, sorted, "stream positions arrive in commit order");
}

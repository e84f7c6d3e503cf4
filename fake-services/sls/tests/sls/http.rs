//! Black-box tests of the Log Service's router, served on 127.0.0.1:0 with a deterministic clock
//! and ids: the wire shapes the SDKs read, every compression, cursors, search, notifications,
//! strict signatures and durability across a reopen.

use std::sync::Arc;

use fcemu_core::{Clock, DataDir, IdGen};
use fcemu_sls::{Log, LogGroup, LogGroupList, LogTag, ShardChoice, Sls, SlsConfig};
use prost::Message;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// 2024-01-01T00:00:00Z, the deterministic clock's start.
const T0: u32 = 1_704_067_200;

struct Server {
    sls: Sls,
    base: String,
    http: reqwest::Client,
}

async fn serve(sls: Sls) -> Server {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let router = sls.router();
    tokio::spawn(async move { axum::serve(listener, router).await });
    Server {
        sls,
        base,
        http: reqwest::Client::new(),
    }
}

fn config(tweak: impl FnOnce(&mut SlsConfig)) -> SlsConfig {
    let mut cfg = SlsConfig::in_memory().unwrap();
    cfg.ctx.clock = Clock::deterministic();
    cfg.ctx.ids = IdGen::sequential();
    tweak(&mut cfg);
    cfg
}

async fn server() -> Server {
    serve(Sls::open(config(|_| {})).unwrap()).await
}

impl Server {
    /// A request for `project` (None: project-less), the SDK's way: the project in the Host.
    fn req(&self, method: Method, project: Option<&str>, path: &str) -> reqwest::RequestBuilder {
        let host = match project {
            Some(p) => format!("{p}.127.0.0.1"),
            None => "127.0.0.1".into(),
        };
        self.http
            .request(method, format!("{}{}", self.base, path))
            .header("host", host)
            .header("x-log-apiversion", "0.6.0")
    }

    async fn json(
        &self,
        method: Method,
        project: Option<&str>,
        path: &str,
        body: Value,
    ) -> reqwest::Response {
        self.req(method, project, path)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap()
    }

    async fn get(&self, project: &str, path: &str) -> reqwest::Response {
        self.req(Method::GET, Some(project), path)
            .send()
            .await
            .unwrap()
    }

    /// GetLogs v2 over `[from, from + 1)`: how many rows match.
    async fn count(&self, from: u32, q: &str) -> u64 {
        let body = json!({"from": from, "to": from + 1, "query": q});
        let v: Value = self
            .json(Method::POST, Some("proj1"), "/logstores/store1/logs", body)
            .await
            .json()
            .await
            .unwrap();
        v["meta"]["count"].as_u64().unwrap()
    }

    async fn setup(&self, project: &str, shards: u32) {
        let r = self
            .json(
                Method::POST,
                Some(project),
                "/",
                json!({"projectName": project, "description": "d"}),
            )
            .await;
        assert_eq!(r.status(), StatusCode::OK);
        let r = self
            .json(
                Method::POST,
                Some(project),
                "/logstores",
                json!({"logstoreName": "store1", "ttl": 7, "shardCount": shards}),
            )
            .await;
        assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
    }

    async fn put(
        &self,
        project: &str,
        path: &str,
        group: &LogGroup,
        compress: Option<&str>,
    ) -> reqwest::Response {
        let raw = group.encode_to_vec();
        let mut req = self
            .req(Method::POST, Some(project), path)
            .header("content-type", "application/x-protobuf")
            .header("x-log-bodyrawsize", raw.len().to_string());
        let body = match compress {
            Some("lz4") => lz4_flex::block::compress(&raw),
            Some("zstd") => zstd::bulk::compress(&raw, 1).unwrap(),
            Some("deflate") => {
                use std::io::Write;
                let mut e =
                    flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
                e.write_all(&raw).unwrap();
                e.finish().unwrap()
            }
            _ => raw,
        };
        if let Some(c) = compress {
            req = req.header("x-log-compresstype", c);
        }
        req.body(body).send().await.unwrap()
    }

    async fn cursor(&self, project: &str, shard: u32, from: &str) -> String {
        let r = self
            .get(
                project,
                &format!("/logstores/store1/shards/{shard}?type=cursor&from={from}"),
            )
            .await;
        assert_eq!(r.status(), StatusCode::OK);
        r.json::<Value>().await.unwrap()["cursor"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// PullLogs; returns (groups, next cursor, headers).
    async fn pull(
        &self,
        project: &str,
        shard: u32,
        query: &str,
        accept: &str,
    ) -> (Vec<LogGroup>, String, reqwest::header::HeaderMap) {
        let r = self
            .req(
                Method::GET,
                Some(project),
                &format!("/logstores/store1/shards/{shard}?type=log&{query}"),
            )
            .header("accept-encoding", accept)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let h = r.headers().clone();
        let body = r.bytes().await.unwrap();
        let raw_size: usize = h["x-log-bodyrawsize"].to_str().unwrap().parse().unwrap();
        let raw = match h.get("x-log-compresstype").map(|v| v.to_str().unwrap()) {
            Some("lz4") => lz4_flex::block::decompress(&body, raw_size).unwrap(),
            Some("deflate") => {
                use std::io::Read;
                let mut out = Vec::new();
                flate2::read::ZlibDecoder::new(&body[..])
                    .read_to_end(&mut out)
                    .unwrap();
                out
            }
            None => body.to_vec(),
            Some(other) => panic!("unexpected compression {other}"),
        };
        assert_eq!(raw.len(), raw_size);
        let list = LogGroupList::decode(raw.as_slice()).unwrap();
        assert_eq!(
            h["x-log-count"].to_str().unwrap(),
            list.log_groups.len().to_string()
        );
        let next = h["x-log-cursor"].to_str().unwrap().to_string();
        (list.log_groups, next, h)
    }
}

async fn error(r: reqwest::Response) -> (StatusCode, String) {
    let status = r.status();
    assert!(r.headers().contains_key("x-log-requestid"));
    let body: Value = r.json().await.unwrap();
    assert!(body["errorMessage"].is_string(), "{body}");
    (status, body["errorCode"].as_str().unwrap().to_string())
}

fn group(topic: &str, logs: &[(u32, &[(&str, &str)])]) -> LogGroup {
    LogGroup {
        logs: logs
            .iter()
            .map(|(t, c)| Log::new(*t, c.iter().copied()))
            .collect(),
        topic: Some(topic.into()),
        source: Some("10.0.0.1".into()),
        log_tags: vec![LogTag {
            key: "k1".into(),
            value: "v1".into(),
        }],
        ..Default::default()
    }
}

#[tokio::test]
async fn projects_logstores_and_the_error_envelope() {
    let s = server().await;
    let r = s.get("proj1", "/").await;
    assert_eq!(r.headers()["x-log-requestid"], "000000000000000000000001");
    assert_eq!(
        error(r).await,
        (StatusCode::NOT_FOUND, "ProjectNotExist".into())
    );

    s.setup("proj1", 2).await;
    let p: Value = s.get("proj1", "/").await.json().await.unwrap();
    assert_eq!(p["projectName"], "proj1");
    assert_eq!(p["description"], "d");
    assert_eq!(p["createTime"], T0.to_string());
    let r = s
        .json(
            Method::POST,
            Some("proj1"),
            "/",
            json!({"projectName": "proj1"}),
        )
        .await;
    assert_eq!(
        error(r).await,
        (StatusCode::BAD_REQUEST, "ProjectAlreadyExist".into())
    );

    let list: Value = s
        .req(Method::GET, None, "/?offset=0&size=100")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (list["count"].as_u64(), list["total"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(list["projects"][0]["projectName"], "proj1");

    let ls: Value = s
        .get("proj1", "/logstores/store1")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(ls["ttl"], 7);
    assert_eq!(ls["shardCount"], 2);
    assert_eq!(ls["enable_tracking"], false);
    assert_eq!(ls["createTime"], T0);
    let r = s
        .json(
            Method::PUT,
            Some("proj1"),
            "/logstores/store1",
            json!({"logstoreName": "store1", "ttl": 9, "shardCount": 5}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let ls: Value = s
        .get("proj1", "/logstores/store1")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (ls["ttl"].as_u64(), ls["shardCount"].as_u64()),
        (Some(9), Some(2))
    );

    let shards: Value = s
        .get("proj1", "/logstores/store1/shards")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(shards.as_array().unwrap().len(), 2);
    assert_eq!(
        shards[1]["inclusiveBeginKey"],
        "80000000000000000000000000000000"
    );

    let r = s.get("proj1", "/logstores/nope").await;
    assert_eq!(
        error(r).await,
        (StatusCode::NOT_FOUND, "LogStoreNotExist".into())
    );
    let r = s
        .get("proj1", "/logstores/store1/shards/9?type=cursor&from=begin")
        .await;
    assert_eq!(
        error(r).await,
        (StatusCode::NOT_FOUND, "ShardNotExist".into())
    );
    let r = s.req(Method::GET, None, "/logstores").send().await.unwrap();
    assert_eq!(
        error(r).await,
        (StatusCode::BAD_REQUEST, "InvalidHost".into())
    );
    let r = s
        .req(Method::POST, Some("proj1"), "/logstores")
        .body("[1,")
        .send()
        .await
        .unwrap();
    assert_eq!(
        error(r).await,
        (StatusCode::BAD_REQUEST, "PostBodyInvalid".into())
    );
    let r = s.get("proj1", "/logstores/store1?type=shipper").await;
    assert_eq!(
        error(r).await,
        (StatusCode::BAD_REQUEST, "NotSupported".into())
    );

    let r = s
        .req(Method::DELETE, Some("proj1"), "/")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-length"], "0");
    let r = s.get("proj1", "/logstores/store1").await;
    assert_eq!(error(r).await.1, "ProjectNotExist");
}

#[tokio::test]
async fn put_and_pull_with_every_compression() {
    let s = server().await;
    s.setup("proj1", 1).await;
    let mut sent = Vec::new();
    for (i, c) in [Some("lz4"), Some("deflate"), Some("zstd"), None]
        .into_iter()
        .enumerate()
    {
        let g = group(
            "t",
            &[(T0 + i as u32, &[("n", &i.to_string()), ("empty", "")])],
        );
        let r = s.put("proj1", "/logstores/store1/shards/lb", &g, c).await;
        assert_eq!(r.status(), StatusCode::OK, "{c:?} {:?}", r.text().await);
        assert!(r.bytes().await.unwrap().is_empty());
        sent.push(g);
    }
    let begin = s.cursor("proj1", 0, "begin").await;
    let end = s.cursor("proj1", 0, "end").await;
    assert_eq!((begin.as_str(), end.as_str()), ("MA==", "NA=="));
    for accept in ["lz4", "gzip, deflate", ""] {
        let (groups, next, h) = s
            .pull("proj1", 0, &format!("cursor={begin}&count=10"), accept)
            .await;
        assert_eq!(next, end);
        assert_eq!(h.get("x-log-compresstype").is_some(), !accept.is_empty());
        assert_eq!(h["x-log-cursor-time"], T0.to_string().as_str());
        for (got, want) in groups.iter().zip(&sent) {
            let mut want = want.clone();
            want.set_tag("__receive_time__", T0.to_string());
            assert_eq!(got, &want);
        }
        assert_eq!(groups.len(), 4);
    }
    // Paging with count and end_cursor, and an empty read at the end.
    let (g, next, _) = s.pull("proj1", 0, "cursor=MQ==&count=1", "lz4").await;
    assert_eq!((g.len(), next.as_str()), (1, "Mg=="));
    let (g, next, _) = s
        .pull("proj1", 0, "cursor=MA==&end_cursor=Mg==", "lz4")
        .await;
    assert_eq!((g.len(), next.as_str()), (2, "Mg=="));
    let (g, next, h) = s.pull("proj1", 0, &format!("cursor={end}"), "lz4").await;
    assert_eq!((g.len(), next.as_str()), (0, end.as_str()));
    assert_eq!(h["x-log-bodyrawsize"], "0");
    // Cursor checks.
    let r = s
        .get("proj1", "/logstores/store1/shards/0?type=log&cursor=NQ==")
        .await;
    assert_eq!(
        error(r).await,
        (StatusCode::BAD_REQUEST, "InvalidCursor".into())
    );
    let r = s
        .get("proj1", "/logstores/store1/shards/0?type=log&cursor=%21%21")
        .await;
    assert_eq!(
        error(r).await,
        (StatusCode::BAD_REQUEST, "InvalidCursor".into())
    );
    let r = s
        .get(
            "proj1",
            "/logstores/store1/shards/0?type=log&cursor=MA==&count=0",
        )
        .await;
    assert_eq!(error(r).await.1, "ParameterInvalid");
    let t: Value = s
        .get(
            "proj1",
            "/logstores/store1/shards/0?type=cursor_time&cursor=MA==",
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(t["cursor_time"], T0);
    // The end cursor names no group: its time is the last group's; past it is invalid.
    let t: Value = s
        .get(
            "proj1",
            &format!("/logstores/store1/shards/0?type=cursor_time&cursor={end}"),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(t["cursor_time"], T0);
    let r = s
        .get(
            "proj1",
            "/logstores/store1/shards/0?type=cursor_time&cursor=NQ==",
        )
        .await;
    assert_eq!(error(r).await.1, "InvalidCursor");
    assert_eq!(s.cursor("proj1", 0, &(T0 + 1).to_string()).await, end);
    assert_eq!(s.cursor("proj1", 0, &T0.to_string()).await, begin);
}

#[tokio::test]
async fn bad_bodies_are_refused_with_their_codes() {
    let s = server().await;
    s.setup("proj1", 1).await;
    let path = "/logstores/store1/shards/lb";
    let post = |headers: &[(&str, &str)], body: Vec<u8>| {
        let mut r = s.req(Method::POST, Some("proj1"), path);
        for (k, v) in headers {
            r = r.header(*k, *v);
        }
        r.body(body).send()
    };
    let r = post(&[], vec![0xff, 0xff, 0xff]).await.unwrap();
    assert_eq!(
        error(r).await,
        (StatusCode::BAD_REQUEST, "PostBodyInvalid".into())
    );
    let r = post(
        &[("x-log-compresstype", "lz4"), ("x-log-bodyrawsize", "50")],
        vec![0xf0, 0x45, 1],
    )
    .await
    .unwrap();
    assert_eq!(
        error(r).await,
        (StatusCode::BAD_REQUEST, "PostBodyUncompressError".into())
    );
    let r = post(
        &[
            ("x-log-compresstype", "deflate"),
            ("x-log-bodyrawsize", "5"),
        ],
        b"junk".to_vec(),
    )
    .await
    .unwrap();
    assert_eq!(
        error(r).await,
        (StatusCode::BAD_REQUEST, "PostBodyUncompressError".into())
    );
    let r = post(
        &[("x-log-compresstype", "brotli"), ("x-log-bodyrawsize", "5")],
        b"junk".to_vec(),
    )
    .await
    .unwrap();
    assert_eq!(
        error(r).await,
        (StatusCode::BAD_REQUEST, "InvalidCompressType".into())
    );
    let r = post(
        &[("x-log-compresstype", "lz4"), ("x-log-bodyrawsize", "-1")],
        b"junk".to_vec(),
    )
    .await
    .unwrap();
    assert_eq!(
        error(r).await,
        (StatusCode::BAD_REQUEST, "InvalidBodyRawSize".into())
    );
    let r = post(
        &[
            ("x-log-compresstype", "lz4"),
            ("x-log-bodyrawsize", "4294967296"),
        ],
        b"junk".to_vec(),
    )
    .await
    .unwrap();
    assert_eq!(
        error(r).await,
        (StatusCode::PAYLOAD_TOO_LARGE, "PostBodyTooLarge".into())
    );
    let r = post(&[], vec![0u8; 10 * 1024 * 1024 + 1]).await.unwrap();
    assert_eq!(
        error(r).await,
        (StatusCode::PAYLOAD_TOO_LARGE, "PostBodyTooLarge".into())
    );
    // Nothing was written.
    assert_eq!(s.cursor("proj1", 0, "end").await, "MA==");
}

#[tokio::test]
async fn writes_publish_what_a_log_trigger_needs() {
    let s = server().await;
    let mut changes = s.sls.changes().subscribe();
    s.setup("proj1", 2).await;
    let g = group("t", &[(T0, &[("a", "1")]), (T0, &[("a", "2")])]);
    assert_eq!(
        s.put("proj1", "/logstores/store1/shards/1", &g, Some("lz4"))
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        s.put("proj1", "/logstores/store1/shards/1", &g, None)
            .await
            .status(),
        StatusCode::OK
    );
    let a = changes.try_recv().unwrap();
    assert_eq!(
        (a.project.as_str(), a.logstore.as_str(), a.shard, a.count),
        ("proj1", "store1", 1, 2)
    );
    assert_eq!(
        (a.begin_cursor.as_str(), a.end_cursor.as_str()),
        ("MA==", "MQ==")
    );
    assert_eq!((a.begin_seq, a.end_seq), (0, 1));
    assert_eq!(a.received_at.unix_timestamp(), i64::from(T0));
    let b = changes.try_recv().unwrap();
    assert_eq!(
        (b.begin_cursor.as_str(), b.end_cursor.as_str()),
        ("MQ==", "Mg==")
    );
    // The range a trigger gets reads back exactly that group.
    let (groups, next, _) = s
        .pull(
            "proj1",
            1,
            &format!("cursor={}&end_cursor={}", b.begin_cursor, b.end_cursor),
            "lz4",
        )
        .await;
    assert_eq!((groups.len(), next), (1, b.end_cursor.clone()));
    // Failed writes publish nothing.
    assert_eq!(
        s.put("proj1", "/logstores/store1/shards/7", &g, None)
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    assert!(changes.try_recv().is_err());

    // The domain API: declared logstores and the emulator's own logs.
    s.sls
        .ensure_logstore("fc-logs", "function-logstore", 2)
        .await
        .unwrap();
    s.sls
        .ensure_logstore("fc-logs", "function-logstore", 4)
        .await
        .unwrap();
    let ls = s
        .sls
        .logstore("fc-logs", "function-logstore")
        .await
        .unwrap();
    assert_eq!(ls.config.shard_count, 2);
    let first = s
        .sls
        .put_logs(
            "fc-logs",
            "function-logstore",
            g.clone(),
            Default::default(),
        )
        .await
        .unwrap();
    let second = s
        .sls
        .put_logs(
            "fc-logs",
            "function-logstore",
            g.clone(),
            Default::default(),
        )
        .await
        .unwrap();
    assert_eq!((first.shard, second.shard), (0, 1));
    assert_eq!(changes.try_recv().unwrap(), first);
    assert_eq!(changes.try_recv().unwrap(), second);
    let routed = s
        .sls
        .put_logs_to(
            "fc-logs",
            "function-logstore",
            ShardChoice::HashKey("f".repeat(32)),
            g,
            fcemu_sls::Origin::default(),
        )
        .await
        .unwrap();
    assert_eq!((routed.shard, routed.begin_cursor.as_str()), (1, "MQ=="));
}

#[tokio::test]
async fn get_logs_v1_v2_and_histograms() {
    let s = server().await;
    s.setup("proj1", 2).await;
    let g = group(
        "web",
        &[
            (T0 - 30, &[("level", "INFO"), ("msg", "GET /a 200")]),
            (T0 - 20, &[("level", "ERROR"), ("msg", "GET /b 500")]),
            (T0 - 10, &[("level", "INFO"), ("msg", "GET /c 200")]),
        ],
    );
    assert_eq!(
        s.put("proj1", "/logstores/store1", &g, Some("lz4"))
            .await
            .status(),
        StatusCode::OK
    );
    let (from, to) = (T0 - 60, T0 + 60);

    let r = s.json(Method::POST, Some("proj1"), "/logstores/store1/logs", json!({"from": from, "to": to, "query": "level: INFO", "line": 100, "offset": 0, "reverse": true, "powerSql": false})).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers().get("x-log-bodyrawsize").is_none());
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["meta"]["progress"], "Complete");
    assert_eq!(v["meta"]["count"], 2);
    assert_eq!(v["meta"]["hasSQL"], false);
    assert_eq!(v["meta"]["keys"], json!(["level", "msg"]));
    assert_eq!(
        v["data"][0],
        json!({"__time__": (T0 - 10).to_string(), "__topic__": "web", "__source__": "10.0.0.1", "__tag__:k1": "v1", "__tag__:__receive_time__": T0.to_string(), "level": "INFO", "msg": "GET /c 200"})
    );

    let r = s.get("proj1", &format!("/logstores/store1?type=log&from={from}&to={to}&query=%2A+%7C+select+count%28%2A%29+as+n&line=100&offset=0&reverse=false&powerSql=False")).await;
    assert_eq!(r.headers()["x-log-progress"], "Complete");
    assert_eq!(r.headers()["x-log-count"], "1");
    assert_eq!(r.headers()["x-log-has-sql"], "true");
    assert_eq!(r.json::<Value>().await.unwrap(), json!([{"n": "3"}]));

    let r = s
        .get(
            "proj1",
            &format!(
                "/logstores/store1?type=log&from={from}&to={}&query=GET&line=1&offset=1",
                T0 - 10
            ),
        )
        .await;
    assert_eq!(r.headers()["x-log-has-sql"], "false");
    assert_eq!(r.headers()["x-log-processed-rows"], "2");
    let rows: Value = r.json().await.unwrap();
    assert_eq!(rows.as_array().unwrap().len(), 1);
    assert_eq!(rows[0]["msg"], "GET /b 500");

    let r = s
        .get(
            "proj1",
            &format!(
                "/logstores/store1?type=histogram&from={from}&to={to}&query=level%3AERROR&topic=web"
            ),
        )
        .await;
    assert_eq!(r.headers()["x-log-count"], "1");
    let h: Value = r.json().await.unwrap();
    let r = s
        .get(
            "proj1",
            &format!("/logstores/store1?type=histogram&from={from}&to={to}&interval=30"),
        )
        .await;
    let every_30: Value = r.json().await.unwrap();
    assert_eq!(every_30.as_array().unwrap().len(), 4);
    assert_eq!(every_30[1]["from"], from + 30);
    let h = h.as_array().unwrap();
    assert_eq!(h[0]["from"], from);
    assert_eq!(h[h.len() - 1]["to"], to);
    assert_eq!(
        h.iter().map(|b| b["count"].as_u64().unwrap()).sum::<u64>(),
        1
    );

    for bad in [
        "from=-1&to=5",
        "from=5&to=1",
        "from=x&to=1",
        "to=1",
        "from=1&to=9&query=a+and",
        "from=1&to=9&offset=-1",
        "from=1&to=9&query=*|select+avg(x)",
    ] {
        let r = s
            .get("proj1", &format!("/logstores/store1?type=log&{bad}"))
            .await;
        assert_eq!(
            error(r).await,
            (StatusCode::BAD_REQUEST, "ParameterInvalid".into()),
            "{bad}"
        );
    }
}

#[tokio::test]
async fn index_configs() {
    let s = server().await;
    s.setup("proj1", 1).await;
    let path = "/logstores/store1/index";
    let doc = json!({"line": {"token": [" "], "caseSensitive": true}, "keys": {"level": {"type": "text", "token": [" "], "caseSensitive": false}}});
    let r = s.get("proj1", path).await;
    assert_eq!(
        error(r).await,
        (StatusCode::BAD_REQUEST, "IndexConfigNotExist".into())
    );
    assert_eq!(
        s.json(Method::POST, Some("proj1"), path, doc.clone())
            .await
            .status(),
        StatusCode::OK
    );
    let r = s.json(Method::POST, Some("proj1"), path, doc.clone()).await;
    assert_eq!(error(r).await.1, "IndexAlreadyExist");
    let got: Value = s.get("proj1", path).await.json().await.unwrap();
    assert_eq!(got["line"], doc["line"]);
    assert_eq!(got["ttl"], 7);

    // The index's case sensitivity applies to searches.
    let g = group("t", &[(T0, &[("level", "Info"), ("msg", "Hello")])]);
    s.put("proj1", "/logstores/store1/shards/lb", &g, None)
        .await;
    assert_eq!(s.count(T0, "Hello").await, 1);
    assert_eq!(s.count(T0, "hello").await, 0);
    assert_eq!(s.count(T0, "level: INFO").await, 1);

    assert_eq!(
        s.req(Method::DELETE, Some("proj1"), path)
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    assert_eq!(s.count(T0, "hello").await, 1);
    let r = s
        .req(Method::DELETE, Some("proj1"), path)
        .send()
        .await
        .unwrap();
    assert_eq!(error(r).await.1, "IndexConfigNotExist");
}

#[tokio::test]
async fn strict_mode_checks_v1_signatures() {
    let sls = Sls::open(config(|c| {
        c.ctx.strict_auth = Some(("ak".into(), "sk".into()))
    }))
    .unwrap();
    let s = serve(sls).await;
    let r = s.get("proj1", "/").await;
    assert_eq!(
        error(r).await,
        (StatusCode::UNAUTHORIZED, "Unauthorized".into())
    );

    let date = "Mon, 01 Jan 2024 00:00:00 GMT";
    let sign = |secret: &str| {
        let headers = {
            let mut h = http::HeaderMap::new();
            h.insert("x-log-apiversion", "0.6.0".parse().unwrap());
            h.insert("x-log-bodyrawsize", "0".parse().unwrap());
            h.insert("date", date.parse().unwrap());
            h
        };
        let params = fcemu_sls::http::Params::parse(Some("offset=0&size=10"));
        let sts = fcemu_sls::http::auth::string_to_sign(&http::Method::GET, "/", &params, &headers);
        format!("LOG ak:{}", fcemu_sls::http::auth::sign(secret, &sts))
    };
    let send = |auth: String| {
        s.req(Method::GET, None, "/?offset=0&size=10")
            .header("x-log-bodyrawsize", "0")
            .header("date", date)
            .header("x-log-date", "added after signing")
            .header("authorization", auth)
            .send()
    };
    assert_eq!(send(sign("sk")).await.unwrap().status(), StatusCode::OK);
    let r = send(sign("wrong")).await.unwrap();
    assert_eq!(
        error(r).await,
        (StatusCode::UNAUTHORIZED, "SignatureNotMatch".into())
    );
}

#[tokio::test]
async fn state_survives_a_reopen() {
    let data = Arc::new(DataDir::temporary("sls-reopen").unwrap());
    let cfg = || {
        let mut c = SlsConfig::with_context(fcemu_core::ServiceContext::new(data.clone()));
        c.ctx.clock = Clock::deterministic();
        c
    };
    let sls = Sls::open(cfg()).unwrap();
    sls.ensure_logstore("proj1", "store1", 1).await.unwrap();
    let g = group("t", &[(T0, &[("a", "1")])]);
    sls.put_logs("proj1", "store1", g.clone(), Default::default())
        .await
        .unwrap();
    drop(sls);

    let sls = Sls::open(cfg()).unwrap();
    let next = sls
        .put_logs("proj1", "store1", g, Default::default())
        .await
        .unwrap();
    assert_eq!(next.begin_cursor, "MQ==");
    let pulled = sls
        .pull_logs("proj1", "store1", 0, "MA==", 10, None)
        .await
        .unwrap();
    assert_eq!(pulled.groups.len(), 2);
    assert_eq!(pulled.next_cursor, "Mg==");
}

#[tokio::test]
async fn consumer_groups_heartbeats_and_checkpoints() {
    let s = server().await;
    s.setup("proj1", 3).await;
    let base = "/logstores/store1/consumergroups";
    let create = json!({"consumerGroup": "cg1", "timeout": 10, "order": false});
    assert_eq!(
        s.json(Method::POST, Some("proj1"), base, create.clone())
            .await
            .status(),
        StatusCode::OK
    );
    let r = s.json(Method::POST, Some("proj1"), base, create).await;
    assert_eq!(
        error(r).await,
        (StatusCode::BAD_REQUEST, "ConsumerGroupAlreadyExist".into())
    );
    let list: Value = s.get("proj1", base).await.json().await.unwrap();
    assert_eq!(
        list,
        json!([{"name": "cg1", "timeout": 10, "order": false}])
    );
    let r = s
        .json(
            Method::PUT,
            Some("proj1"),
            &format!("{base}/cg1"),
            json!({"order": true}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let list: Value = s.get("proj1", base).await.json().await.unwrap();
    assert_eq!(list[0]["order"], true);

    let s = &s;
    let beat = |consumer: &'static str| {
        let path = format!("{base}/cg1?type=heartbeat&consumer={consumer}");
        async move {
            let r = s.json(Method::POST, Some("proj1"), &path, json!([])).await;
            assert_eq!(r.status(), StatusCode::OK);
            r.json::<Vec<u32>>().await.unwrap()
        }
    };
    assert_eq!(beat("c1").await, vec![0, 1, 2]);
    let c2 = beat("c2").await;
    let c1 = beat("c1").await;
    assert_eq!(c1.len() + c2.len(), 3);
    assert!(c1.iter().all(|s| !c2.contains(s)));
    assert!(!c2.is_empty() && !c1.is_empty());
    // c2 falls silent past the timeout: c1 gets everything back.
    s.sls
        .config()
        .ctx
        .clock
        .advance(std::time::Duration::from_secs(11));
    assert_eq!(beat("c1").await, vec![0, 1, 2]);

    let cp = format!("{base}/cg1?type=checkpoint&consumer=c1&forceSuccess=True");
    let r = s
        .json(
            Method::POST,
            Some("proj1"),
            &cp,
            json!({"shard": 1, "checkpoint": "MA=="}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = s
        .json(
            Method::POST,
            Some("proj1"),
            &cp,
            json!({"shard": 1, "checkpoint": "not a cursor"}),
        )
        .await;
    assert_eq!(
        error(r).await,
        (StatusCode::BAD_REQUEST, "InvalidShardCheckPoint".into())
    );
    let r = s
        .json(
            Method::POST,
            Some("proj1"),
            &cp,
            json!({"shard": 5, "checkpoint": "MA=="}),
        )
        .await;
    assert_eq!(
        error(r).await,
        (StatusCode::NOT_FOUND, "ShardNotExist".into())
    );
    let all: Value = s
        .get("proj1", &format!("{base}/cg1"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(all.as_array().unwrap().len(), 3);
    assert_eq!(all[0]["checkpoint"], "");
    assert_eq!(all[1]["checkpoint"], "MA==");
    assert_eq!(all[1]["consumer"], "c1");
    assert_eq!(all[1]["updateTime"], (i64::from(T0) + 11) * 1_000_000);
    let one: Value = s
        .get("proj1", &format!("{base}/cg1?shard=1"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(one.as_array().unwrap().len(), 1);
    let none: Value = s
        .get("proj1", &format!("{base}/cg1?shard=9"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(none, json!([]));

    assert_eq!(
        s.req(Method::DELETE, Some("proj1"), &format!("{base}/cg1"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    let r = s.get("proj1", &format!("{base}/cg1")).await;
    assert_eq!(
        error(r).await,
        (StatusCode::NOT_FOUND, "ConsumerGroupNotExist".into())
    );
}

#[tokio::test]
async fn pull_answers_stay_under_ten_mebibytes() {
    let s = server().await;
    s.setup("proj1", 1).await;
    let big = "x".repeat(4 * 1024 * 1024);
    let g = group("t", &[(T0, &[("blob", big.as_str())])]);
    for _ in 0..3 {
        let r = s
            .put("proj1", "/logstores/store1/shards/lb", &g, Some("lz4"))
            .await;
        assert_eq!(r.status(), StatusCode::OK);
    }
    let (groups, next, _) = s.pull("proj1", 0, "cursor=MA==&count=10", "lz4").await;
    assert_eq!((groups.len(), next.as_str()), (2, "Mg=="));
    let (groups, next, _) = s
        .pull("proj1", 0, &format!("cursor={next}&count=10"), "lz4")
        .await;
    assert_eq!((groups.len(), next.as_str()), (1, "Mw=="));
}

#[tokio::test]
async fn groups_past_the_ttl_expire_and_positions_are_never_reused() {
    let s = server().await;
    s.sls.create_project("proj1", "").await.unwrap();
    let mut cfg = fcemu_sls::LogstoreConfig::new("store1", 1);
    cfg.ttl = 1;
    s.sls.create_logstore("proj1", cfg).await.unwrap();
    let g = group("t", &[(T0, &[("a", "1")])]);
    for _ in 0..2 {
        s.sls
            .put_logs("proj1", "store1", g.clone(), Default::default())
            .await
            .unwrap();
    }
    let day = std::time::Duration::from_secs(86_400);
    s.sls.config().ctx.clock.advance(day * 2);
    // Everything is past the ttl: the shard is empty, its end stays where it was.
    assert_eq!(s.cursor("proj1", 0, "begin").await, "Mg==");
    assert_eq!(s.cursor("proj1", 0, "end").await, "Mg==");
    let r = s
        .get("proj1", "/logstores/store1/shards/0?type=log&cursor=MA==")
        .await;
    assert_eq!(error(r).await.1, "InvalidCursor");
    assert_eq!(s.count(T0, "*").await, 0);

    let later = group("t", &[(T0 + 2 * 86_400, &[("a", "2")])]);
    let appended = s
        .sls
        .put_logs("proj1", "store1", later, Default::default())
        .await
        .unwrap();
    assert_eq!(appended.begin_cursor, "Mg==");
    let (groups, next, _) = s.pull("proj1", 0, "cursor=Mg==", "lz4").await;
    assert_eq!((groups.len(), next.as_str()), (1, "Mw=="));
}

#[tokio::test]
async fn searches_span_many_batches_of_groups() {
    let s = server().await;
    s.sls.ensure_logstore("proj1", "store1", 2).await.unwrap();
    for i in 0..600u32 {
        let n = i.to_string();
        let g = group(
            "t",
            &[(
                T0 + i % 7,
                &[
                    ("n", n.as_str()),
                    ("odd", if i % 2 == 1 { "yes" } else { "no" }),
                ],
            )],
        );
        s.sls
            .put_logs("proj1", "store1", g, Default::default())
            .await
            .unwrap();
    }
    let q = |query: &str| fcemu_sls::LogQuery {
        from: i64::from(T0),
        to: i64::from(T0) + 7,
        query: query.into(),
        topic: String::new(),
        line: 100,
        offset: 0,
        reverse: false,
    };
    let count = s
        .sls
        .get_logs("proj1", "store1", q("odd: yes | select count(*) as c"))
        .await
        .unwrap();
    assert_eq!(count.rows, vec![vec![("c".to_string(), "300".to_string())]]);
    let page = s.sls.get_logs("proj1", "store1", q("*")).await.unwrap();
    assert_eq!((page.processed, page.rows.len()), (600, 100));
    let h = s
        .sls
        .histograms("proj1", "store1", q("odd: no"), None)
        .await
        .unwrap();
    assert_eq!(h.iter().map(|b| b.count).sum::<u64>(), 300);
}

#[tokio::test]
async fn list_topics_pages_with_tokens() {
    let s = server().await;
    s.setup("proj1", 2).await;
    for topic in ["b", "a", "c", "a", ""] {
        let g = group(topic, &[(T0, &[("k", "v")])]);
        assert_eq!(
            s.put("proj1", "/logstores/store1/shards/lb", &g, None)
                .await
                .status(),
            StatusCode::OK
        );
    }
    let r = s.get("proj1", "/logstores/store1?type=topic&line=2").await;
    assert_eq!(r.headers()["x-log-count"], "2");
    assert_eq!(r.headers()["x-log-nexttoken"], "b");
    assert_eq!(r.json::<Value>().await.unwrap(), json!(["a", "b"]));
    let r = s
        .get("proj1", "/logstores/store1?type=topic&line=2&token=b")
        .await;
    assert_eq!(r.headers()["x-log-nexttoken"], "");
    assert_eq!(r.json::<Value>().await.unwrap(), json!(["c"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writes_get_distinct_positions_and_ordered_notifications() {
    let s = server().await;
    let mut changes = s.sls.changes().subscribe();
    s.sls.ensure_logstore("proj1", "store1", 1).await.unwrap();
    let tasks: Vec<_> = (0..64u32)
        .map(|i| {
            let sls = s.sls.clone();
            tokio::spawn(async move {
                let g = group("t", &[(T0, &[("i", i.to_string().as_str())])]);
                sls.put_logs("proj1", "store1", g, Default::default())
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut seqs = Vec::new();
    for t in tasks {
        seqs.push(t.await.unwrap().begin_seq);
    }
    seqs.sort();
    assert_eq!(seqs, (0..64).collect::<Vec<u64>>());
    let published: Vec<u64> = (0..64)
        .map(|_| changes.try_recv().unwrap().begin_seq)
        .collect();
    assert_eq!(published, (0..64).collect::<Vec<u64>>());
    let pulled = s
        .sls
        .pull_logs("proj1", "store1", 0, "MA==", 1000, None)
        .await
        .unwrap();
    assert_eq!(
        (pulled.groups.len(), pulled.next_cursor.as_str()),
        (64, "NjQ=")
    );
}

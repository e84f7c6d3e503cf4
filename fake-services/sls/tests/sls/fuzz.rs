//! Property tests: no input makes the body decoders, the query parser, the cursor and parameter
//! readers, or the whole router panic, and the router never answers 5xx to a malformed request.

use std::sync::OnceLock;

use axum::body::Body;
use fcemu_core::{Clock, IdGen};
use fcemu_sls::http::Params;
use fcemu_sls::http::body::decompress_bytes;
use fcemu_sls::model::LogQuery;
use fcemu_sls::store::StoredGroup;
use fcemu_sls::{Log, LogGroup, Sls, SlsConfig, cursor, query, search};
use proptest::prelude::*;
use prost::Message;
use tower::ServiceExt;

fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap()
    })
}

fn service() -> &'static Sls {
    static SLS: OnceLock<Sls> = OnceLock::new();
    SLS.get_or_init(|| {
        let mut cfg = SlsConfig::in_memory().unwrap();
        cfg.ctx.clock = Clock::deterministic();
        cfg.ctx.ids = IdGen::sequential();
        let sls = Sls::open(cfg).unwrap();
        runtime().block_on(async {
            sls.ensure_logstore("proj1", "store1", 2).await.unwrap();
            let g = LogGroup {
                logs: vec![Log::new(
                    1_704_067_200,
                    [("level", "INFO"), ("msg", "hi there")],
                )],
                ..Default::default()
            };
            sls.put_logs("proj1", "store1", g, Default::default())
                .await
                .unwrap();
        });
        sls
    })
}

/// Text made of the query language's own pieces, so the parser sees near-valid input.
fn query_text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("and"),
        Just("or"),
        Just("not"),
        Just("("),
        Just(")"),
        Just(":"),
        Just("\""),
        Just("*"),
        Just("|"),
        Just("select"),
        Just("count(*)"),
        Just("level"),
        Just("INFO"),
        Just(">"),
        Just(">="),
        Just("in"),
        Just("["),
        Just("]"),
        Just("10"),
        Just("__tag__"),
        Just("h?"),
        Just("#"),
    ];
    prop::collection::vec(piece, 0..24).prop_map(|v| v.join(" "))
}

fn group_bytes() -> Vec<u8> {
    LogGroup {
        logs: vec![
            Log::new(10, [("level", "INFO"), ("msg", "hello world")]),
            Log::new(20, [("level", "ERROR"), ("latency", "35")]),
        ],
        topic: Some("t".into()),
        ..Default::default()
    }
    .encode_to_vec()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn decompressors_never_panic(data in prop::collection::vec(any::<u8>(), 0..512), raw in 0usize..70_000, kind in prop_oneof![Just("lz4"), Just("deflate"), Just("zstd"), Just("")]) {
        let _ = decompress_bytes(&data, kind, raw);
    }

    #[test]
    fn protobuf_decoder_never_panics(data in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = LogGroup::decode(data.as_slice());
        let _ = fcemu_sls::LogGroupList::decode(data.as_slice());
    }

    #[test]
    fn mutated_groups_never_panic(flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8)) {
        let mut bytes = group_bytes();
        for (i, b) in flips {
            let at = i.index(bytes.len());
            bytes[at] = b;
        }
        let _ = LogGroup::decode(bytes.as_slice());
    }

    #[test]
    fn queries_never_panic(text in query_text(), noise in ".{0,40}") {
        let groups = vec![StoredGroup { shard: 0, seq: 0, received_ms: 0, data: group_bytes() }];
        for q in [text.clone(), noise.clone(), format!("{text}{noise}")] {
            let _ = query::parse(&q);
            let lq = LogQuery { from: 0, to: 100, query: q, topic: String::new(), line: 10, offset: 0, reverse: false };
            let _ = search::get_logs(&groups, &lq, None);
            let _ = search::histograms(&groups, &lq, None);
        }
    }

    #[test]
    fn cursors_and_params_never_panic(s in ".{0,64}") {
        let _ = cursor::decode(&s);
        let p = Params::parse(Some(&s));
        let _ = p.int("line", 1);
        let _ = p.boolean("reverse", false);
    }

    #[test]
    fn router_never_panics_or_fails_with_5xx(
        method in prop_oneof![Just("GET"), Just("POST"), Just("PUT"), Just("DELETE")],
        path in prop_oneof![
            Just("/"), Just("/logstores"), Just("/logstores/store1"), Just("/logstores/store1/logs"),
            Just("/logstores/store1/shards"), Just("/logstores/store1/shards/lb"), Just("/logstores/store1/shards/route"),
            Just("/logstores/store1/shards/0"), Just("/logstores/store1/shards/99999999999999999999"),
            Just("/logstores/store1/index"), Just("/logstores/nope/shards/1"), Just("/%ff%fe/x"),
            Just("/logstores/store1/consumergroups"), Just("/logstores/store1/consumergroups/cg"),
        ],
        query in prop_oneof![
            Just(""), Just("type=log"), Just("type=logs&cursor=MA=="), Just("type=cursor&from=begin"),
            Just("type=cursor&from=99999999999999999999"), Just("type=cursor_time&cursor=MA=="),
            Just("type=log&from=0&to=9999999999&query=level%3AINFO"), Just("type=histogram&from=0&to=9223372036854775807"), Just("type=histogram&from=0&to=100&interval=1"), Just("type=histogram&from=0&to=9223372036854775807&interval=1"),
            Just("type=log&cursor=MA==&count=4294967296"), Just("key=zz&action=split"), Just("offset=-5&size=-1"),
            Just("type=heartbeat&consumer=c"), Just("type=checkpoint&consumer=c"), Just("shard=-1"),
        ],
        host in prop_oneof![Just("proj1.127.0.0.1"), Just("127.0.0.1"), Just("other.localhost:9"), Just("")],
        compress in prop_oneof![Just(None), Just(Some("lz4")), Just(Some("deflate")), Just(Some("zstd")), Just(Some("x"))],
        raw_size in prop_oneof![Just(None), Just(Some("0".to_string())), Just(Some("17".to_string())), Just(Some("-3".to_string())), any::<u64>().prop_map(|n| Some(n.to_string()))],
        body in prop_oneof![
            prop::collection::vec(any::<u8>(), 0..256),
            Just(group_bytes()),
            Just(b"{\"logstoreName\":\"s2\",\"ttl\":1e99,\"shardCount\":-1}".to_vec()),
            Just(b"{\"from\":0,\"to\":1e30,\"query\":\"(((\",\"line\":-1}".to_vec()),
            Just(b"{\"consumerGroup\":\"cg\",\"timeout\":5,\"shard\":99999999999,\"checkpoint\":\"MA==\"}".to_vec()),
        ],
    ) {
        let router = service().router();
        let uri = if query.is_empty() { path.to_string() } else { format!("{path}?{query}") };
        let mut req = http::Request::builder().method(method).uri(uri).header("x-log-apiversion", "0.6.0");
        if !host.is_empty() {
            req = req.header("host", host);
        }
        if let Some(c) = compress {
            req = req.header("x-log-compresstype", c);
        }
        if let Some(n) = raw_size {
            req = req.header("x-log-bodyrawsize", n);
        }
        let req = req.body(Body::from(body)).unwrap();
        let resp = runtime().block_on(router.oneshot(req)).unwrap();
        prop_assert!(resp.status().as_u16() < 500, "{}", resp.status());
        prop_assert!(resp.headers().contains_key("x-log-requestid"));
    }
}

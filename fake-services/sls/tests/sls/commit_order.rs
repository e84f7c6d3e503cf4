//! Appended logs are published in commit order, under the store's lock: many tasks writing to
//! one shard at once see their notifications arrive with increasing positions.

use fcemu_sls::proto::{Log, LogContent, LogGroup};
use fcemu_sls::{Sls, SlsConfig};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writes_are_published_in_commit_order() {
    let sls = Sls::open(SlsConfig::in_memory().unwrap()).unwrap();
    sls.ensure_logstore("proj1", "store1", 1).await.unwrap();
    let mut rx = sls.changes().subscribe();
    let mut tasks = Vec::new();
    for n in 0..64u32 {
        let sls = sls.clone();
        tasks.push(tokio::spawn(async move {
            let group = LogGroup {
                logs: vec![Log {
                    time: 1_700_000_000 + n,
                    contents: vec![LogContent {
                        key: "n".into(),
                        value: n.to_string(),
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            };
            sls.put_logs("proj1", "store1", group, Default::default())
                .await
                .unwrap();
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let mut seqs = Vec::new();
    while let Ok(c) = rx.try_recv() {
        seqs.push(c.begin_seq);
    }
    assert_eq!(seqs.len(), 64);
    assert!(
        seqs.windows(2).all(|w| w[0] < w[1]),
        "notifications out of commit order: {seqs:?}"
    );
}

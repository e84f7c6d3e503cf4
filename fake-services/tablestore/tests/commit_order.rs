//! Row changes are published in commit order, under the store's lock: many tasks writing one
//! row at once see their stream records arrive with increasing sequence numbers.

use fcemu_tablestore::model::{PkColumnSchema, PkType, TableOptions, Value};
use fcemu_tablestore::plainbuffer::PbValue;
use fcemu_tablestore::rows::{ColumnOp, RowWrite, WriteKind};
use fcemu_tablestore::tables::CreateTable;
use fcemu_tablestore::{Ots, OtsConfig};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writes_are_published_in_commit_order() {
    let ots = Ots::open(OtsConfig::in_memory().unwrap()).unwrap();
    ots.create_table(
        "i",
        CreateTable {
            name: "t".into(),
            primary_key: vec![PkColumnSchema {
                name: "id".into(),
                ty: PkType::String,
                auto_increment: false,
            }],
            defined_columns: Vec::new(),
            reserved_read: 0,
            reserved_write: 0,
            options: TableOptions::default(),
            stream: Some((true, 24)),
        },
    )
    .await
    .unwrap();
    let mut rx = ots.changes().subscribe();
    let mut tasks = Vec::new();
    for n in 0..64i64 {
        let ots = ots.clone();
        tasks.push(tokio::spawn(async move {
            let write = RowWrite {
                table: "t".into(),
                primary_key: vec![("id".into(), PbValue::Plain(Value::String("row".into())))],
                kind: WriteKind::Put(vec![ColumnOp::Put {
                    name: "n".into(),
                    value: Value::Integer(n),
                    timestamp: None,
                }]),
                condition: Default::default(),
            };
            ots.write_row("i", write).await.unwrap();
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let mut seqs = Vec::new();
    while let Ok(c) = rx.try_recv() {
        let s = &c.record.sequence;
        seqs.push((s.epoch, s.timestamp_us, s.row_index));
    }
    assert_eq!(seqs.len(), 64);
    assert!(
        seqs.windows(2).all(|w| w[0] < w[1]),
        "notifications out of commit order: {seqs:?}"
    );
}

//! The scheduler over an in-memory object store: DAG order, instances, mappings, logs, retries.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fcemu_batch::{Batch, BatchConfig, Objects, State};
use fcemu_core::{DataDir, ServiceContext};
use futures::FutureExt;
use futures::future::BoxFuture;
use tokio::sync::watch;

#[derive(Default)]
struct Memory(Mutex<BTreeMap<(String, String), Vec<u8>>>);

impl Objects for Memory {
    fn get<'a>(&'a self, b: &'a str, k: &'a str) -> BoxFuture<'a, Result<Vec<u8>, String>> {
        let found = self.0.lock().unwrap().get(&(b.into(), k.into())).cloned();
        async move { found.ok_or_else(|| format!("no object {b}/{k}")) }.boxed()
    }
    fn put<'a>(
        &'a self,
        b: &'a str,
        k: &'a str,
        body: Vec<u8>,
    ) -> BoxFuture<'a, Result<(), String>> {
        self.0.lock().unwrap().insert((b.into(), k.into()), body);
        async { Ok(()) }.boxed()
    }
    fn list<'a>(&'a self, b: &'a str, p: &'a str) -> BoxFuture<'a, Result<Vec<String>, String>> {
        let keys = self
            .0
            .lock()
            .unwrap()
            .keys()
            .filter(|(bb, k)| bb == b && k.starts_with(p))
            .map(|(_, k)| k.clone())
            .collect();
        async move { Ok(keys) }.boxed()
    }
}

/// Counts running jobs, as the emulator's work guard does for `idle`.
struct Running(Arc<watch::Sender<usize>>);

impl Drop for Running {
    fn drop(&mut self) {
        self.0.send_modify(|n| *n -= 1);
    }
}

fn service() -> (Batch, Arc<Memory>, watch::Receiver<usize>) {
    let ctx = ServiceContext::new(Arc::new(DataDir::temporary("batch-test").unwrap()));
    let batch = Batch::open(BatchConfig::with_context(ctx)).unwrap();
    let store = Arc::new(Memory::default());
    let (tx, rx) = watch::channel(0usize);
    let tx = Arc::new(tx);
    batch.attach(
        store.clone(),
        Arc::new(move || {
            tx.send_modify(|n| *n += 1);
            Box::new(Running(tx.clone())) as Box<dyn Send>
        }),
    );
    (batch, store, rx)
}

/// The job once no job runs any more (the hook's guard is dropped when its scheduler ends).
async fn finished(
    batch: &Batch,
    running: &mut watch::Receiver<usize>,
    id: &str,
) -> fcemu_batch::Job {
    tokio::time::timeout(Duration::from_secs(60), running.wait_for(|n| *n == 0))
        .await
        .expect("the job did not end")
        .unwrap();
    let job = batch.job(id).await.unwrap();
    assert!(job.state.is_final(), "{job:#?}");
    job
}

#[tokio::test]
async fn tasks_run_in_dag_order_with_their_mappings() {
    let (batch, store, mut running) = service();
    store.put("b", "in/x.txt", b"hello".to_vec()).await.unwrap();
    let body = r#"{"Name": "j", "Priority": 1, "Type": "DAG", "JobFailOnInstanceFail": true, "DAG": {
        "Tasks": {
            "second": {"Parameters": {"Command": {"CommandLine": "cat in/* > o/final.txt"}},
                       "InputMapping": {"oss://b/mid/": "in/"}, "OutputMapping": {"o/": "oss://b/out/"}},
            "first": {"InstanceCount": 2,
                      "Parameters": {"Command": {"CommandLine": "tr a-z A-Z < in/x.txt > o/$BATCH_COMPUTE_DAG_INSTANCE_ID.txt"},
                                     "StdoutRedirectPath": "oss://b/logs/"},
                      "InputMapping": {"oss://b/in/": "in/"}, "OutputMapping": {"o/": "oss://b/mid/"}}
        },
        "Dependencies": {"first": ["second"]}}}"#;
    let id = batch.create_job(body.as_bytes()).await.unwrap();
    let job = finished(&batch, &mut running, &id).await;
    assert_eq!(job.state, State::Finished, "{job:#?}");
    assert_eq!(
        store.get("b", "out/final.txt").await.unwrap(),
        b"HELLOHELLO"
    );
    assert!(
        store
            .get("b", &format!("logs/stdout.{id}.first.1"))
            .await
            .is_ok()
    );
    let (first, second) = (job.task("first").unwrap(), job.task("second").unwrap());
    assert!(first.ended_ms <= second.started_ms);
}

#[tokio::test]
async fn retries_then_failure_without_failing_the_job_when_told_not_to() {
    let (batch, _, mut running) = service();
    let body = r#"{"Name": "j", "Priority": 1, "Type": "DAG", "JobFailOnInstanceFail": false, "DAG": {
        "Tasks": {
            "bad": {"MaxRetryCount": 2, "Parameters": {"Command": {"CommandLine": "exit 7"}}},
            "after": {"Parameters": {"Command": {"CommandLine": "true"}}}
        },
        "Dependencies": {"bad": ["after"]}}}"#;
    let id = batch.create_job(body.as_bytes()).await.unwrap();
    let job = finished(&batch, &mut running, &id).await;
    let bad = &job.task("bad").unwrap().instances[0];
    assert_eq!(
        (bad.state, bad.retry_count, bad.exit_code),
        (State::Failed, 2, Some(7))
    );
    assert_eq!(job.task("after").unwrap().state, State::Finished);
    assert_eq!(job.state, State::Finished);
}

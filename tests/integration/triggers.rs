//! Triggers: OSS changes and timers invoke functions with FC's exact events, through the async
//! queue (retries, destinations); `idle` waits for all of it; invocations are listed.

use std::time::Duration;

use serde_json::Value;

use crate::support::*;

const WAIT: Duration = Duration::from_secs(30);

fn post(url: &str, body: &str) -> reqwest::blocking::Response {
    reqwest::blocking::Client::new()
        .post(url)
        .body(body.to_string())
        .send()
        .unwrap()
}

fn idle(server: &Server) {
    let r = post(&format!("{}/_fcemu/idle?timeout=30", server.services), "");
    assert_eq!(r.status(), 200, "idle");
}

fn invocations(server: &Server, query: &str) -> Vec<Value> {
    let v: Value = server
        .get(&format!("/_fcemu/invocations?{query}"))
        .json()
        .unwrap();
    v["invocations"].as_array().unwrap().clone()
}

fn put_object(server: &Server, bucket: &str, key: &str, body: &str) {
    let r = reqwest::blocking::Client::new()
        .put(format!("{}/{bucket}/{key}", server.services))
        .header("content-type", "image/jpeg")
        .body(body.to_string())
        .send()
        .unwrap();
    assert_eq!(r.status(), 200, "PUT {bucket}/{key}: {:?}", r.text());
}

#[test]
fn an_uploaded_object_fires_the_oss_trigger_with_fcs_exact_event() {
    let manifest = function_toml(
        "thumb",
        "echo",
        Target::P1,
        "[[functions.thumb.triggers]]\ntype = \"oss\"\nname = \"on-upload\"\nbucket = \"uploads\"\nevents = [\"oss:ObjectCreated:*\"]\nprefix = \"photos/\"\nsuffix = \".jpg\"\n",
    );
    let p = Project::new(&manifest);
    let server = Server::start(&p, &["--deterministic"]);
    put_object(&server, "uploads", "photos/cat.jpg", "meow");
    put_object(&server, "uploads", "photos/cat.png", "meow");
    put_object(&server, "uploads", "docs/cat.jpg", "meow");
    idle(&server);

    let records = invocations(&server, "function=thumb");
    assert_eq!(
        records.len(),
        1,
        "only the .jpg under photos/ fires: {records:?}"
    );
    let r = &records[0];
    assert_eq!(r["trigger"], "on-upload");
    assert_eq!(r["status"], "success");
    let event: Value = serde_json::from_str(r["event"].as_str().unwrap()).unwrap();
    assert_eq!(r["result"], r["event"], "echo returned the event");
    insta::assert_json_snapshot!(event);

    let log = server
        .log
        .wait_for_text(WAIT, "docs/cat.jpg: trigger on-upload not fired");
    assert!(
        log.contains("photos/cat.png: trigger on-upload not fired: suffix \".jpg\" does not match"),
        "{log}"
    );
    assert!(
        log.contains(
            "docs/cat.jpg: trigger on-upload not fired: prefix \"photos/\" does not match"
        ),
        "{log}"
    );
}

#[test]
fn advancing_the_virtual_clock_fires_timers_in_order() {
    let manifest = function_toml(
        "tick",
        "echo",
        Target::P1,
        "[[functions.tick.triggers]]\ntype = \"timer\"\nname = \"quarter\"\ncron = \"0 */15 * * * *\"\npayload = \"tock\"\n",
    );
    let p = Project::new(&manifest);
    let server = Server::start(&p, &["--deterministic"]);
    let r = post(
        &format!("{}/_fcemu/clock/advance?by=1h", server.services),
        "",
    );
    assert_eq!(r.status(), 200);
    let advanced: Value = r.json().unwrap();
    assert_eq!(advanced["now"], "2024-01-01T01:00:00Z");
    assert_eq!(advanced["fired"].as_array().unwrap().len(), 4);
    idle(&server);

    let records = invocations(&server, "function=tick");
    let times: Vec<String> = records
        .iter()
        .map(|r| {
            let e: Value = serde_json::from_str(r["event"].as_str().unwrap()).unwrap();
            assert_eq!(e["triggerName"], "quarter");
            assert_eq!(e["payload"], "tock");
            let at = e["triggerTime"].as_str().unwrap().to_string();
            // The clock stops at each due instant: the firing runs at its trigger time.
            let started = r["startedAt"].as_str().unwrap();
            assert_eq!(
                started.trim_end_matches('Z').trim_end_matches(".000"),
                at.trim_end_matches('Z'),
                "{r}"
            );
            at
        })
        .collect();
    assert_eq!(
        times,
        [
            "2024-01-01T00:15:00Z",
            "2024-01-01T00:30:00Z",
            "2024-01-01T00:45:00Z",
            "2024-01-01T01:00:00Z"
        ]
    );

    let triggers: Value = server.get("/_fcemu/triggers").json().unwrap();
    assert_eq!(
        triggers["triggers"][0]["nextFiring"],
        "2024-01-01T01:15:00Z"
    );
    assert!(triggers["triggers"][0]["lastFiring"]["requestId"].is_string());
}

#[test]
fn the_system_clock_cannot_be_advanced() {
    let p = Project::new("");
    let server = Server::start(&p, &[]);
    let r = post(
        &format!("{}/_fcemu/clock/advance?seconds=60", server.services),
        "",
    );
    assert_eq!(r.status(), 409);
    assert!(r.text().unwrap().contains("--deterministic"));
}

#[test]
fn failed_async_invocations_are_retried_then_sent_to_the_failure_destination() {
    let mut manifest = function_toml("flaky", "fail", Target::P1, "");
    manifest += "[functions.flaky.async]\nmax_retries = 2\non_failure = \"dlq\"\n";
    manifest += &function_toml("dlq", "echo", Target::P1, "");
    let p = Project::new(&manifest);
    let server = Server::start(&p, &["--deterministic"]);
    let r = reqwest::blocking::Client::new()
        .post(format!(
            "{}/2016-08-15/services/default/functions/flaky/invocations",
            server.services
        ))
        .header("x-fc-invocation-type", "Async")
        .body("{\"order\":1}")
        .send()
        .unwrap();
    assert_eq!(r.status(), 202);
    let request_id = r.headers()["x-fc-request-id"].to_str().unwrap().to_string();
    idle(&server);

    let attempts = invocations(&server, "function=flaky");
    assert_eq!(attempts.len(), 3, "first try and two retries: {attempts:?}");
    for (i, a) in attempts.iter().enumerate() {
        assert_eq!(a["attempt"], i as u64);
        assert_eq!(a["requestId"], request_id.as_str());
        assert_eq!(a["status"], "handled-error");
    }
    let dlq = invocations(&server, "function=dlq");
    assert_eq!(dlq.len(), 1);
    assert_eq!(dlq[0]["trigger"], "on-failure");
    let payload: Value = serde_json::from_str(dlq[0]["event"].as_str().unwrap()).unwrap();
    assert_eq!(payload["requestContext"]["requestId"], request_id.as_str());
    assert_eq!(payload["requestContext"]["condition"], "RetriesExhausted");
    assert_eq!(payload["requestContext"]["approximateInvokeCount"], 3);
    assert_eq!(payload["requestPayload"], "{\"order\":1}");
    assert_eq!(
        payload["responseContext"]["functionError"],
        "HandledInvocationError"
    );
}

#[test]
fn synthetic_events_go_through_the_same_matching() {
    let manifest = function_toml(
        "thumb",
        "echo",
        Target::P1,
        "[[functions.thumb.triggers]]\ntype = \"oss\"\nbucket = \"uploads\"\nsuffix = \".jpg\"\n",
    );
    let p = Project::new(&manifest);
    let server = Server::start(&p, &[]);
    let r = post(
        &format!("{}/_fcemu/events", server.services),
        r#"{"type":"oss","bucket":"uploads","key":"a.jpg","size":3}"#,
    );
    assert_eq!(r.status(), 200);
    let ids: Value = r.json().unwrap();
    assert_eq!(ids["requestIds"].as_array().unwrap().len(), 1);
    let r = post(
        &format!("{}/_fcemu/events", server.services),
        r#"{"type":"oss","bucket":"uploads","key":"a.png"}"#,
    );
    assert_eq!(
        r.json::<Value>().unwrap()["requestIds"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
    let bad = post(
        &format!("{}/_fcemu/events", server.services),
        r#"{"type":"sms"}"#,
    );
    assert_eq!(bad.status(), 400);
    idle(&server);
    let records = invocations(&server, "function=thumb");
    assert_eq!(records.len(), 1);
    let event: Value = serde_json::from_str(records[0]["event"].as_str().unwrap()).unwrap();
    assert_eq!(event["events"][0]["oss"]["object"]["key"], "a.jpg");
}

#[test]
fn events_generate_prints_what_the_trigger_delivers() {
    let p = Project::new("");
    let out = p
        .fcemu(&[
            "events",
            "generate",
            "timer",
            "--trigger",
            "nightly",
            "--payload",
            "x",
            "--deterministic",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        r#"{"triggerTime":"2024-01-01T00:00:00Z","triggerName":"nightly","payload":"x"}"#
    );
    let out = p
        .fcemu(&[
            "events",
            "generate",
            "oss",
            "--bucket",
            "uploads",
            "--key",
            "k.jpg",
            "--size",
            "5",
            "--deterministic",
        ])
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["events"][0]["eventName"], "ObjectCreated:PutObject");
    assert_eq!(v["events"][0]["oss"]["object"]["size"], 5);
}

#[test]
fn queued_work_survives_a_restart() {
    let mut manifest = function_toml("slow", "spin", Target::P1, "timeout = 1\nconcurrency = 1\n");
    manifest += "[functions.slow.async]\nmax_retries = 0\n";
    let p = Project::new(&manifest);
    let data = p.path().join("state");
    let data_arg = data.to_str().unwrap().to_string();
    let server = Server::start(&p, &["--data-dir", &data_arg]);
    let client = reqwest::blocking::Client::new();
    let url = format!(
        "{}/2016-08-15/services/default/functions/slow/invocations",
        server.services
    );
    for _ in 0..3 {
        let r = client
            .post(&url)
            .header("x-fc-invocation-type", "Async")
            .body("x")
            .send()
            .unwrap();
        assert_eq!(r.status(), 202);
    }
    // Killed while the first runs and two wait: all three are still queued on disk.
    drop(server);
    let server = Server::start(&p, &["--data-dir", &data_arg]);
    server
        .log
        .wait_for_text(WAIT, "resuming 3 queued invocation(s)");
    idle(&server);
    assert_eq!(invocations(&server, "function=slow").len(), 3);
}

#[test]
fn a_function_that_fires_its_own_trigger_is_stopped_with_a_warning() {
    let manifest = function_toml(
        "writer",
        "writer",
        Target::P2,
        "[[functions.writer.triggers]]\ntype = \"oss\"\nname = \"loop\"\nbucket = \"uploads\"\nprefix = \"loop/\"\n",
    );
    let p = Project::new(&manifest);
    let server = Server::start(&p, &["--max-trigger-depth", "3"]);
    put_object(&server, "uploads", "loop/0.txt", "start");
    let log = server
        .log
        .wait_for_text(WAIT, "this looks like a trigger loop");
    assert!(
        log.contains("loop/3.txt: trigger loop of writer not fired: 3 invocations in a row"),
        "{log}"
    );
    idle(&server);
    let records = invocations(&server, "function=writer");
    assert_eq!(records.len(), 3, "{records:?}");
    assert!(
        records.iter().all(|r| r["status"] == "success"),
        "{records:?}"
    );
}

#[test]
fn a_log_trigger_fed_by_its_own_functions_logs_is_stopped_with_a_warning() {
    // The function's service ships its logs to loop/fc, the logstore its own trigger reads.
    let manifest = format!(
        "[services.svc]\nlog_project = \"loop\"\nlog_store = \"fc-logs\"\n\n[logstores.\"loop/fc-logs\"]\nshards = 1\n\n{}",
        function_toml(
            "digest",
            "echo",
            Target::P1,
            "service = \"svc\"\n[[functions.digest.triggers]]\ntype = \"log\"\nname = \"own-logs\"\nproject = \"loop\"\nlogstore = \"fc-logs\"\ninterval = 5\n",
        )
    );
    let p = Project::new(&manifest);
    let server = Server::start(&p, &["--deterministic", "--max-trigger-depth", "3"]);
    assert_eq!(server.invoke("digest", "start").status, 200);
    let client = reqwest::blocking::Client::new();
    for _ in 0..6 {
        idle(&server);
        let r = client
            .post(format!(
                "{}/_fcemu/clock/advance?seconds=10",
                server.services
            ))
            .send()
            .unwrap();
        assert!(r.status().is_success());
    }
    idle(&server);
    let log = server
        .log
        .wait_for_text(WAIT, "this looks like a trigger loop");
    assert!(
        log.contains("loop/fc-logs: trigger own-logs of digest not fired: 3 invocations in a row"),
        "{log}"
    );
    let records = invocations(&server, "function=digest");
    assert_eq!(
        records.len(),
        4,
        "the call from outside and 3 firings: {records:?}"
    );
    let mut depths: Vec<u64> = records
        .iter()
        .map(|r| r["chainDepth"].as_u64().unwrap())
        .collect();
    depths.sort();
    assert_eq!(depths, [0, 1, 2, 3]);
}

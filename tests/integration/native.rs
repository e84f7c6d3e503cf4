//! Native functions: Node.js and Python handlers and a custom runtime, run as FC runs them —
//! FC's signatures and context, errors, initializer once per instance, timeouts and crashes that
//! replace the instance, HTTP pass-through, and no process left behind.

use std::time::Duration;

use serde_json::Value;

use crate::support::*;

fn native_dir(name: &str) -> String {
    repo_root()
        .join("fixtures/native")
        .join(name)
        .display()
        .to_string()
}

fn manifest() -> String {
    format!(
        r#"
[functions.cb]
runtime = "nodejs20"
code = "{node}"
handler = "index.callback"
initializer = "index.initializer"
env = {{ GREETING = "hi" }}

[functions.node]
runtime = "nodejs18"
code = "{node}"
handler = "index.handler"
timeout = 1
concurrency = 2

[functions.py]
runtime = "python3.10"
code = "{python}"
handler = "main.handler"
timeout = 1

[functions.custom]
runtime = "custom.debian10"
code = "{custom}"
command = ["python3", "server.py"]

[[functions.custom.triggers]]
type = "http"
path = "/custom/{{rest+}}"
"#,
        node = native_dir("node"),
        python = native_dir("python"),
        custom = native_dir("custom"),
    )
}

fn json(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}

/// The function's invocation records, once nothing is in flight (a pass-through's record is
/// made after its response has gone out).
fn records(server: &Server, function: &str) -> Vec<Value> {
    server.idle();
    let v: Value = server
        .get(&format!("/_fcemu/invocations?function={function}"))
        .json()
        .unwrap();
    v["invocations"].as_array().unwrap().clone()
}

fn alive(pid: u64) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .unwrap_or_default()
            .contains(") Z ")
}

#[test]
fn node_callback_handler_gets_fcs_context_and_initializer_runs_once() {
    let p = Project::new(&manifest());
    let server = Server::start_with_env(
        &p,
        &[],
        &[("FCEMU_TEST_HOST_ONLY", std::path::Path::new("secret"))],
    );
    let first = server.invoke("cb", r#"{"name":"ada"}"#);
    assert_eq!(first.status, 200, "{}", first.body);
    let v = json(&first.body);
    assert_eq!(v["hello"], "ada");
    assert_eq!(v["initialized"], 1);
    assert_eq!(v["requestId"].as_str(), first.request_id.as_deref());
    assert_eq!(v["function"]["name"], "cb");
    assert_eq!(v["function"]["handler"], "index.callback");
    assert_eq!(v["region"], "cn-hangzhou");
    assert!(
        v["credentials"]["accessKeyId"]
            .as_str()
            .unwrap()
            .starts_with("STS.")
    );
    assert_eq!(v["env"]["key"], v["credentials"]["accessKeyId"]);
    assert_eq!(v["env"]["custom"], "hi");
    assert_eq!(v["env"]["leak"], Value::Null, "fcemu's environment leaked");
    let second = json(&server.invoke("cb", r#"{"name":"bob"}"#).body);
    assert_eq!(
        second["initialized"], 1,
        "the initializer runs once per instance"
    );
    assert_eq!(second["calls"], 2, "the instance is reused");
    assert_eq!(second["pid"], v["pid"]);

    let failed = server.invoke("cb", r#"{"name":"eve","fail":true}"#);
    assert_eq!(failed.error_type.as_deref(), Some("HandledInvocationError"));
    let e = json(&failed.body);
    assert_eq!(e["errorMessage"], "refused eve");
    assert_eq!(e["errorType"], "Error");

    let recs = records(&server, "cb");
    let logs: Vec<String> = recs[0]["logs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap().to_string())
        .collect();
    let rid = first.request_id.unwrap();
    assert!(
        logs.iter()
            .any(|l| l.contains(&rid) && l.ends_with("[verbose] callback got ada")),
        "{logs:?}"
    );
    assert!(
        logs.iter().any(|l| l.ends_with("[info] from the logger")),
        "{logs:?}"
    );
    assert!(
        logs.iter().any(|l| l.contains("initializing cb")),
        "initializer output is in the first invocation's log: {logs:?}"
    );
}

#[test]
fn node_async_handler_errors_timeouts_and_crashes_leave_the_function_healthy() {
    let p = Project::new(&manifest());
    let server = Server::start(&p, &[]);
    let ok = server.invoke("node", r#"{"raw":true}"#);
    assert_eq!((ok.status, ok.body.as_str()), (200, "plain text"));

    let thrown = server.invoke("node", r#"{"throw":true}"#);
    assert_eq!(
        thrown.error_type.as_deref(),
        Some("UnhandledInvocationError")
    );
    let e = json(&thrown.body);
    assert_eq!(
        (e["errorType"].as_str(), e["errorMessage"].as_str()),
        (Some("TypeError"), Some("thrown on purpose"))
    );
    assert!(
        e["stackTrace"][0]
            .as_str()
            .unwrap()
            .contains("fixtures/native/node/index.js"),
        "{e}"
    );

    let slow = server.invoke("node", r#"{"sleepMs":5000}"#);
    assert_eq!(slow.error_type.as_deref(), Some("UnhandledInvocationError"));
    assert_eq!(json(&slow.body)["errorType"], "FunctionTimeout");
    let after = server.invoke("node", "{}");
    assert_eq!(after.status, 200, "healthy after a timeout: {}", after.body);

    let crashed = server.invoke("node", r#"{"exit":true}"#);
    let e = json(&crashed.body);
    assert!(
        e["errorMessage"]
            .as_str()
            .unwrap()
            .starts_with("Process exited unexpectedly before completing request"),
        "{e}"
    );
    let pid = json(&after.body)["pid"].as_u64().unwrap();
    assert!(!alive(pid), "the crashed instance is gone");
    let again = server.invoke("node", "{}");
    assert_eq!(again.status, 200, "healthy after a crash: {}", again.body);
}

#[test]
fn busy_instances_make_a_second_one_up_to_concurrency() {
    let p = Project::new(&manifest());
    let server = Server::start(&p, &[]);
    let services = server.services.clone();
    let calls: Vec<_> = (0..2)
        .map(|_| {
            let s = services.clone();
            std::thread::spawn(move || invoke_at(&s, "node", r#"{"sleepMs":300}"#))
        })
        .collect();
    let pids: std::collections::BTreeSet<u64> = calls
        .into_iter()
        .map(|c| {
            let r = c.join().unwrap();
            assert_eq!(r.status, 200, "{}", r.body);
            json(&r.body)["pid"].as_u64().unwrap()
        })
        .collect();
    assert_eq!(pids.len(), 2, "two instances served two concurrent calls");
}

#[test]
fn python_handler_gets_bytes_and_its_errors_are_fcs() {
    let p = Project::new(&manifest());
    let server = Server::start(&p, &[]);
    let ok = server.invoke("py", r#"{"name":"ada"}"#);
    assert_eq!(ok.status, 200, "{}", ok.body);
    let v = json(&ok.body);
    assert_eq!(v["hello"], "ada");
    assert_eq!(v["request_id"].as_str(), ok.request_id.as_deref());
    assert_eq!(v["function"], "py");
    assert!(v["key"].as_str().unwrap().starts_with("STS."));
    assert!(v["tmp"].as_str().is_some_and(|t| !t.is_empty()));

    let failed = server.invoke("py", r#"{"name":"eve","fail":true}"#);
    assert_eq!(
        failed.error_type.as_deref(),
        Some("UnhandledInvocationError")
    );
    let e = json(&failed.body);
    assert_eq!(e["errorType"], "ValueError");
    assert_eq!(e["errorMessage"], "refused eve");
    assert!(
        e["stackTrace"][0].as_str().unwrap().contains("main.py"),
        "{e}"
    );

    let slow = server.invoke("py", r#"{"sleep":5}"#);
    assert_eq!(json(&slow.body)["errorType"], "FunctionTimeout");
    let after = server.invoke("py", r#"{"name":"again"}"#);
    assert_eq!(after.status, 200, "{}", after.body);

    let logs = records(&server, "py")[0]["logs"].to_string();
    assert!(logs.contains("[INFO] python got ada"), "{logs}");
    assert!(logs.contains("from the logger"), "{logs}");
}

#[test]
fn custom_runtime_serves_events_and_http_requests_passed_through() {
    let p = Project::new(&manifest());
    let server = Server::start(&p, &[]);
    let ev = server.invoke("custom", "an event");
    assert_eq!(ev.status, 200, "{}", ev.body);
    let v = json(&ev.body);
    assert_eq!(v["path"], "/invoke");
    assert_eq!(v["control"], "/invoke");
    assert_eq!(v["function"], "custom");
    assert_eq!(v["body"], "an event");

    let r = reqwest::blocking::Client::new()
        .put(format!("{}/custom/a/b?x=1", server.gateway))
        .body("payload")
        .send()
        .unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(r.headers()["x-custom"], "yes");
    let v: Value = r.json().unwrap();
    assert_eq!(v["method"], "PUT");
    assert_eq!(v["path"], "/custom/a/b?x=1");
    assert_eq!(v["control"], "/http-invoke");
    assert_eq!(v["body"], "payload");
    let logs = records(&server, "custom")[0]["logs"].to_string();
    assert!(logs.contains("custom POST /invoke"), "{logs}");
}

#[test]
fn no_instance_outlives_fcemu() {
    for kill in [false, true] {
        let p = Project::new(&manifest());
        let server = Server::start(&p, &[]);
        let pid = json(&server.invoke("node", "{}").body)["pid"]
            .as_u64()
            .unwrap();
        let py = json(&server.invoke("py", "{}").body)["pid"]
            .as_u64()
            .unwrap();
        assert!(alive(pid) && alive(py));
        if kill {
            let mut server = server;
            server.child.kill().unwrap();
            server.child.wait().unwrap();
        } else {
            assert!(server.terminate().success());
        }
        poll_until(Duration::from_secs(10), || {
            (!alive(pid) && !alive(py)).then_some(())
        });
    }
}

#[test]
fn an_edit_in_the_code_directory_restarts_the_instances_with_the_new_code() {
    let code = tempfile::tempdir().unwrap();
    let marks = tempfile::tempdir().unwrap();
    let mark = marks.path().join("stopped.txt");
    let write = |version: u32| {
        let text = format!(
            "exports.handler = async () => ({{ version: {version}, pid: process.pid }});\n\
             exports.preStop = (ctx, cb) => {{ require('fs').appendFileSync(process.env.PRE_STOP_MARK, process.pid + '\\n'); cb(null, ''); }};\n"
        );
        std::fs::write(code.path().join("index.js"), text).unwrap()
    };
    write(1);
    let p = Project::new(&format!(
        "[functions.web]\nruntime = \"nodejs20\"\ncode = {:?}\nhandler = \"index.handler\"\npre_stop = \"index.preStop\"\nenv = {{ PRE_STOP_MARK = {:?} }}\n",
        code.path().display().to_string(),
        mark.display().to_string(),
    ));
    let server = Server::start(&p, &[]);
    server
        .log
        .wait_for_text(Duration::from_secs(30), "fcemu: watching fcemu.toml");
    let before = json(&server.invoke("web", "{}").body);
    assert_eq!(before["version"], 1);
    write(2);
    let after = poll_until(Duration::from_secs(30), || {
        let v = json(&server.invoke("web", "{}").body);
        (v["version"] == 2).then_some(v)
    });
    assert_ne!(
        after["pid"], before["pid"],
        "a new instance runs the new code"
    );
    let old = before["pid"].as_u64().unwrap();
    poll_until(Duration::from_secs(10), || (!alive(old)).then_some(()));
    // An editor's save can be seen twice (truncate, then write): other short-lived instances
    // may be replaced too, so look for the old one among the stopped.
    let stopped = std::fs::read_to_string(&mark).unwrap();
    assert!(
        stopped.lines().any(|l| l == old.to_string()),
        "the replaced instance got its pre-stop call: {stopped:?}"
    );
    server
        .log
        .wait_for_text(Duration::from_secs(5), "fcemu: reloaded web");

    // A syntax error is reported and the running version keeps serving.
    let current = json(&server.invoke("web", "{}").body);
    std::fs::write(
        code.path().join("index.js"),
        "exports.handler = async () => {\n",
    )
    .unwrap();
    let log = server
        .log
        .wait_for_text(Duration::from_secs(30), "still serving code");
    assert!(log.contains("index.js does not parse"), "{log}");
    let v = json(&server.invoke("web", "{}").body);
    assert_eq!(v["version"], 2, "{v}\n{}", server.log.text());
    assert_eq!(v["pid"], current["pid"], "the running instance is kept");
}

#[test]
fn fc2_http_handlers_get_the_request_and_answer_with_their_response() {
    let p = Project::new(&format!(
        r#"
[functions.web]
runtime = "nodejs20"
code = "{node}"
handler = "index.http"

[[functions.web.triggers]]
type = "http"
format = "http"
path = "/node/{{rest+}}"

[functions.flask]
runtime = "python3"
code = "{python}"
handler = "main.wsgi"

[[functions.flask.triggers]]
type = "http"
format = "http"
path = "/py/{{rest+}}"
"#,
        node = native_dir("node"),
        python = native_dir("python"),
    ));
    let server = Server::start(&p, &[]);
    let client = reqwest::blocking::Client::new();
    let r = client
        .post(format!(
            "{}/node/a%20b?a=1&b=2&b=3&status=201",
            server.gateway
        ))
        .header("x-custom", "yes")
        .body("payload")
        .send()
        .unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(r.headers()["x-seen"], "1");
    assert_eq!(r.headers()["content-type"], "application/json");
    let rid = r.headers()["x-fc-request-id"].to_str().unwrap().to_string();
    let v: Value = r.json().unwrap();
    assert_eq!(v["method"], "POST");
    assert_eq!(v["path"], "/node/a b");
    assert_eq!(v["url"], "/node/a%20b?a=1&b=2&b=3&status=201");
    assert_eq!(v["queries"]["a"], "1");
    assert_eq!(v["queries"]["b"], serde_json::json!(["2", "3"]));
    assert_eq!(v["streamed"], "payload");
    assert_eq!(v["body"], "payload");
    assert_eq!(v["clientIP"], "127.0.0.1");
    assert_eq!(
        v["fcHeaders"],
        serde_json::json!([]),
        "x-fc-* headers are FC's own"
    );
    assert_eq!(v["custom"], "yes");
    assert_eq!(v["requestId"], rid.as_str());

    let r = client
        .put(format!("{}/py/x?q=1", server.gateway))
        .header("x-custom", "py")
        .header("content-type", "text/plain")
        .body("hello wsgi")
        .send()
        .unwrap();
    assert_eq!(r.status(), 202);
    assert_eq!(r.headers()["x-seen"], "wsgi");
    let v: Value = r.json().unwrap();
    assert_eq!(v["method"], "PUT");
    assert_eq!(v["path"], "/py/x");
    assert_eq!(v["query"], "q=1");
    assert_eq!(v["request_uri"], "/py/x?q=1");
    assert_eq!(v["body"], "hello wsgi");
    assert_eq!(v["custom"], "py");
    assert_eq!(v["content_type"], "text/plain");
    assert_eq!(v["fc_headers"], serde_json::json!([]));
    assert_eq!(v["remote"], "127.0.0.1");
    let recs = records(&server, "flask");
    assert_eq!(recs.len(), 1);
    assert_eq!(recs[0]["status"], "success", "{:?}", recs[0]);
}

#[test]
fn idle_instances_are_stopped_and_shutdown_runs_pre_stop() {
    let dir = tempfile::tempdir().unwrap();
    let mark = dir.path().join("stopped.txt");
    let manifest = format!(
        "[functions.web]\nruntime = \"nodejs20\"\ncode = {:?}\nhandler = \"index.handler\"\npre_stop = \"index.preStop\"\nenv = {{ PRE_STOP_MARK = {:?} }}\n",
        native_dir("node"),
        mark.display().to_string(),
    );
    let stopped = || std::fs::read_to_string(&mark).unwrap_or_default();

    let p = Project::new(&manifest);
    let server = Server::start(&p, &["--instance-idle", "1s"]);
    let pid = json(&server.invoke("web", "{}").body)["pid"]
        .as_u64()
        .unwrap();
    poll_until(Duration::from_secs(20), || (!alive(pid)).then_some(()));
    assert_eq!(
        stopped().trim(),
        pid.to_string(),
        "pre-stop ran before the stop"
    );
    let again = json(&server.invoke("web", "{}").body)["pid"]
        .as_u64()
        .unwrap();
    assert_ne!(again, pid, "the next call starts a new instance");
    drop(server);

    std::fs::remove_file(&mark).unwrap();
    let server = Server::start(&p, &[]);
    let pid = json(&server.invoke("web", "{}").body)["pid"]
        .as_u64()
        .unwrap();
    assert!(server.terminate().success());
    assert_eq!(stopped().trim(), pid.to_string(), "shutdown runs pre-stop");
    assert!(!alive(pid));
}

#[test]
fn an_express_app_started_per_instance_serves_api_gateway_events_and_keeps_state() {
    let code = repo_root().join("fixtures/node");
    assert!(
        code.join("node_modules/express").is_dir(),
        "fixtures/node has no node_modules: run scripts/runtimes (npm ci there)"
    );
    let p = Project::new(&format!(
        r#"
[functions.notes]
runtime = "nodejs20"
code = "{code}"
handler = "index.handler"
initializer = "index.initializer"
initialization_timeout = 30

[[functions.notes.triggers]]
type = "http"
path = "/notes"

[[functions.notes.triggers]]
type = "http"
methods = ["GET"]
path = "/notes/{{id}}"
"#,
        code = code.display()
    ));
    let server = Server::start(&p, &[]);
    let client = reqwest::blocking::Client::new();
    for (i, text) in ["first", "second"].iter().enumerate() {
        let r = client
            .post(format!("{}/notes", server.gateway))
            .json(&serde_json::json!({ "text": text }))
            .send()
            .unwrap();
        assert_eq!(r.status(), 201);
        assert_eq!(r.headers()["x-note-count"], (i + 1).to_string().as_str());
        assert_eq!(r.json::<Value>().unwrap()["id"], i + 1);
    }
    let r = client
        .get(format!("{}/notes/2", server.gateway))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    assert_eq!(r.text().unwrap(), "second");
    let r = client
        .get(format!("{}/notes/9", server.gateway))
        .send()
        .unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(r.json::<Value>().unwrap()["error"], "no note 9");
    let all: Value = client
        .get(format!("{}/notes", server.gateway))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(all["notes"], serde_json::json!(["first", "second"]));
    let recs = records(&server, "notes");
    assert_eq!(recs.len(), 5);
    assert!(recs.iter().all(|r| r["status"] == "success"), "{recs:?}");
    let logs = recs.last().unwrap()["logs"].to_string() + &recs[0]["logs"].to_string();
    assert!(logs.contains("express listening on"), "{logs}");
}

#[test]
fn deterministic_runs_give_functions_the_virtual_clock_and_sequential_ids() {
    let p = Project::new(&format!(
        "[functions.node]\nruntime = \"nodejs20\"\ncode = {:?}\nhandler = \"index.clock\"\n\n\
         [functions.py]\nruntime = \"python3\"\ncode = {:?}\nhandler = \"main.clock\"\n",
        native_dir("node"),
        native_dir("python"),
    ));
    let server = Server::start(&p, &["--deterministic"]);
    let node = server.invoke("node", "");
    let v = json(&node.body);
    assert_eq!(v["iso"], "2024-01-01T00:00:00.000Z");
    assert_eq!(v["now"], 1_704_067_200_000u64);
    assert_eq!(v["isDate"], true);
    let py = json(&server.invoke("py", "").body);
    assert_eq!(py["time"], 1_704_067_200.0);
    assert_eq!(py["now"], "2024-01-01T00:00:00+00:00");
    let advanced = reqwest::blocking::Client::new()
        .post(format!("{}/_fcemu/clock/advance?by=1h", server.services))
        .send()
        .unwrap();
    assert!(advanced.status().is_success(), "{:?}", advanced.text());
    let v = json(&server.invoke("node", "").body);
    assert_eq!(v["iso"], "2024-01-01T01:00:00.000Z");
    let logs = records(&server, "node")[0]["logs"].to_string();
    assert!(
        !logs.contains("2026-"),
        "log lines carry virtual time: {logs}"
    );
    let first = node.request_id.unwrap();
    let again = Server::start(&p, &["--deterministic"]);
    assert_eq!(again.invoke("node", "").request_id.unwrap(), first);
}

#[test]
fn async_retries_tell_the_function_which_retry_it_is() {
    let p = Project::new(&format!(
        "[functions.flaky]\nruntime = \"nodejs20\"\ncode = {:?}\nhandler = \"index.flaky\"\n[functions.flaky.async]\nmax_retries = 1\n",
        native_dir("node"),
    ));
    let server = Server::start(&p, &["--deterministic"]);
    let r = reqwest::blocking::Client::new()
        .post(format!(
            "{}/2016-08-15/services/default/functions/flaky/invocations",
            server.services
        ))
        .header("x-fc-invocation-type", "Async")
        .body("{}")
        .send()
        .unwrap();
    assert_eq!(r.status(), 202);
    let mut seen: Vec<String> = records(&server, "flaky")
        .iter()
        .map(|r| {
            let logs = r["logs"].to_string();
            let n = if logs.contains("[verbose] retry 1") {
                "1"
            } else {
                "0"
            };
            format!("attempt {} saw retry {n}", r["attempt"])
        })
        .collect();
    seen.sort();
    assert_eq!(seen, ["attempt 0 saw retry 0", "attempt 1 saw retry 1"]);
}

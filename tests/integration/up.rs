//! `fcemu up`: port 0, the ready line and file, health, clean shutdown.

use serde_json::Value;

use crate::support::*;

#[test]
fn up_on_port_zero_prints_ready_serves_health_and_stops_on_sigterm() {
    let p = Project::new(&function_toml("echo", "echo", Target::P1, ""));
    let ready = p.path().join("ready.json");
    let server = Server::start(&p, &["--ready-file", ready.to_str().unwrap()]);
    assert!(server.services.starts_with("http://127.0.0.1:"));
    assert!(!server.services.ends_with(":0"));
    let file: Value = serde_json::from_str(&std::fs::read_to_string(&ready).unwrap()).unwrap();
    assert_eq!(file["services"], server.services.as_str());

    let health: Value = server.get("/_fcemu/health").json().unwrap();
    assert_eq!(health["status"], "ok");
    assert_eq!(health["functions"], 1);

    let functions: Value = server.get("/_fcemu/functions").json().unwrap();
    assert_eq!(functions["functions"][0]["name"], "echo");
    assert_eq!(functions["functions"][0]["kind"], "module");
    assert_eq!(
        functions["functions"][0]["codeHash"]
            .as_str()
            .unwrap()
            .len(),
        64
    );

    let idle = reqwest::blocking::Client::new()
        .post(format!("{}/_fcemu/idle?timeout=5", server.services))
        .send()
        .unwrap();
    assert_eq!(idle.status(), 200);

    let status = server.terminate();
    assert!(status.success(), "clean exit on SIGTERM: {status:?}");
}

#[test]
fn up_without_a_manifest_serves_an_empty_app() {
    let dir = tempfile::tempdir().unwrap();
    let p = Project { dir };
    let server = Server::start(&p, &[]);
    let health: Value = server.get("/_fcemu/health").json().unwrap();
    assert_eq!(health["functions"], 0);
}

#[test]
fn a_malformed_admin_query_string_is_the_admin_apis_json_error() {
    let dir = tempfile::tempdir().unwrap();
    let p = Project { dir };
    let server = Server::start(&p, &[]);
    let r = server.get("/_fcemu/invocations?limit=x");
    assert_eq!(r.status(), 400);
    let body: Value = r.json().unwrap();
    assert_eq!(body["error"], "InvalidArgument");
    assert!(
        body["message"].as_str().unwrap().contains("limit"),
        "{body}"
    );
}

#[test]
fn proxied_requests_for_foreign_hosts_get_502_naming_the_host() {
    let p = Project::new("");
    let server = Server::start(&p, &[]);
    let client = reqwest::blocking::Client::builder()
        .proxy(reqwest::Proxy::http(&server.services).unwrap())
        .build()
        .unwrap();
    let resp = client.get("http://example.com/anything").send().unwrap();
    assert_eq!(resp.status(), 502);
    assert!(resp.text().unwrap().contains("example.com"));
    let resp = client
        .get("http://proj.localhost/_fcemu/health")
        .send()
        .unwrap();
    assert_eq!(
        resp.status(),
        200,
        "emulated hosts are served through the proxy"
    );
}

#[test]
fn a_busy_port_is_a_clear_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let p = Project::new("");
    let out = p
        .fcemu(&["up", "--in-memory", "--listen", &addr])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains(&format!("cannot listen on {addr}")),
        "{}",
        stderr(&out)
    );
}

#[test]
fn exec_runs_a_command_against_the_emulator_and_exits_with_its_status() {
    let p = Project::new(&function_toml(
        "api",
        "apigw",
        Target::P1,
        "[[functions.api.triggers]]\ntype = \"http\"\npath = \"/api\"\n[buckets.ci-bucket]\n",
    ));
    // The command reaches the gateway through HTTP_PROXY (the services port forwards it) and
    // the object store directly, then exits with a status of its own.
    let script = r#"
import json, os, sys, urllib.request
gateway, services = os.environ["FCEMU_GATEWAY"], os.environ["FCEMU_ENDPOINT"]
assert os.environ["HTTP_PROXY"] == services
event = json.loads(urllib.request.urlopen(gateway + "/api?x=1").read())
put = urllib.request.Request(services + "/ci-bucket/k", data=b"stored", method="PUT")
urllib.request.urlopen(put).read()
stored = urllib.request.urlopen(services + "/ci-bucket/k").read().decode()
print("path", event["path"], "query", event["queryParameters"]["x"], "object", stored)
sys.exit(3)
"#;
    let out = p
        .fcemu(&["exec", "--in-memory", "--", "python3", "-c", script])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stdout}\n{stderr}");
    assert_eq!(stdout.trim(), "path /api query 1 object stored", "{stderr}");
    assert!(stderr.contains("python3 ended"), "{stderr}");
}

//! `fcemu invoke`: the function ABI (DESIGN §4) for core modules and components alike.

use serde_json::Value;

use crate::support::*;

const TARGETS: [Target; 2] = [Target::P1, Target::P2];

fn project(extra: &str, target: Target) -> Project {
    let mut m = String::from("name = \"t\"\n");
    m += &function_toml("echo", "echo", target, "");
    m += &function_toml(
        "env",
        "envdump",
        target,
        "memory = 256\ntimeout = 7\nenv = { GREETING = \"hi\" }\n",
    );
    m += &function_toml("fail", "fail", target, "");
    m += &function_toml("trap", "trap", target, "");
    m += &function_toml("spin", "spin", target, "timeout = 1\n");
    m += &function_toml("hog", "hog", target, "memory = 128\n");
    m += &function_toml("files", "files", target, "");
    m += extra;
    Project::new(&m)
}

#[test]
fn echo_returns_the_event_and_logs_with_fc_markers() {
    for target in TARGETS {
        let p = project("", target);
        let out = p.invoke("echo", b"{\"hello\":\"world\"}", &[]);
        assert!(out.status.success(), "{target:?}: {}", stderr(&out));
        assert_eq!(stdout(&out), "{\"hello\":\"world\"}");
        let err = stderr(&out);
        let lines: Vec<&str> = err.lines().collect();
        assert!(lines[0].starts_with("FC Invoke Start RequestId: "), "{err}");
        assert_eq!(lines[1], "echo: 17 bytes");
        assert!(lines[2].starts_with("FC Invoke End RequestId: "));
        assert!(
            lines[3].starts_with("Duration: ")
                && lines[3].contains("Billed Duration: ")
                && lines[3].contains("Max Memory Used: "),
            "{err}"
        );
    }
}

#[test]
fn binary_events_pass_through_unchanged() {
    let p = project("", Target::P1);
    let event: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
    let out = p.invoke("echo", &event, &[]);
    assert!(out.status.success());
    assert_eq!(out.stdout, event);
}

#[test]
fn environment_holds_fc_variables_context_and_user_env_but_nothing_of_the_host() {
    for target in TARGETS {
        let p = project("", target);
        let out = p.invoke("env", b"", &["--deterministic"]);
        assert!(out.status.success(), "{}", stderr(&out));
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        let env = &v["env"];
        assert_eq!(env["FC_FUNCTION_NAME"], "env");
        assert_eq!(env["FC_SERVICE_NAME"], "default");
        assert_eq!(env["FC_REGION"], "cn-hangzhou");
        assert_eq!(env["FC_ACCOUNT_ID"], "1234567890123456");
        assert_eq!(env["FC_FUNCTION_MEMORY_SIZE"], "256");
        assert_eq!(env["FC_REQUEST_ID"], "00000000-0000-0000-0000-000000000001");
        assert!(env["FC_INSTANCE_ID"].as_str().unwrap().starts_with("c-"));
        assert_eq!(env["GREETING"], "hi");
        assert!(env["ALIBABA_CLOUD_ACCESS_KEY_ID"].is_string());
        assert!(env["ALIBABA_CLOUD_ACCESS_KEY_SECRET"].is_string());
        assert!(env["ALIBABA_CLOUD_SECURITY_TOKEN"].is_string());
        assert!(
            env.get("PATH").is_none() && env.get("HOME").is_none(),
            "host env leaked: {env}"
        );
        let ctx: Value = serde_json::from_str(env["FC_CONTEXT"].as_str().unwrap()).unwrap();
        assert_eq!(ctx["requestId"], env["FC_REQUEST_ID"]);
        assert_eq!(ctx["function"]["name"], "env");
        assert_eq!(ctx["function"]["memory"], 256);
        assert_eq!(ctx["function"]["timeout"], 7);
        assert_eq!(ctx["service"]["qualifier"], "LATEST");
        assert_eq!(ctx["region"], "cn-hangzhou");
        assert!(ctx["credentials"]["accessKeyId"].is_string());
    }
}

fn error_body(out: &std::process::Output) -> Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("error body is JSON ({e}): {}", stdout(out)))
}

#[test]
fn non_zero_exit_is_a_handled_error_with_the_last_log_line_as_message() {
    for target in TARGETS {
        let p = project("", target);
        let out = p.invoke("fail", b"", &[]);
        assert_eq!(out.status.code(), Some(1));
        assert!(stderr(&out).contains("x-fc-error-type: HandledInvocationError"));
        let body = error_body(&out);
        assert_eq!(
            body["errorMessage"],
            "invalid order: quantity must be positive"
        );
        assert_eq!(body["errorType"], "ExitStatus1");
        assert!(body["stackTrace"].is_array());
    }
}

#[test]
fn a_trap_is_an_unhandled_error_with_a_stack_trace() {
    for target in TARGETS {
        let p = project("", target);
        let out = p.invoke("trap", b"", &[]);
        assert_eq!(out.status.code(), Some(1));
        assert!(stderr(&out).contains("x-fc-error-type: UnhandledInvocationError"));
        assert!(
            stderr(&out).contains("index out of bounds"),
            "panic message is logged"
        );
        let body = error_body(&out);
        assert_eq!(body["errorType"], "WasmTrap");
        assert!(
            body["errorMessage"]
                .as_str()
                .unwrap()
                .contains("unreachable")
        );
        assert!(!body["stackTrace"].as_array().unwrap().is_empty());
    }
}

#[test]
fn a_function_past_its_timeout_is_stopped() {
    for target in TARGETS {
        let p = project("", target);
        let out = p.invoke("spin", b"", &[]);
        assert_eq!(out.status.code(), Some(1));
        let body = error_body(&out);
        assert_eq!(body["errorType"], "FunctionTimeout");
        assert!(
            body["errorMessage"]
                .as_str()
                .unwrap()
                .starts_with("Function timed out after 1 seconds")
        );
        assert!(stderr(&out).contains("x-fc-error-type: UnhandledInvocationError"));
    }
}

#[test]
fn a_function_past_its_memory_limit_is_stopped() {
    for target in TARGETS {
        let p = project("", target);
        let out = p.invoke("hog", b"", &[]);
        assert_eq!(out.status.code(), Some(1));
        let body = error_body(&out);
        assert_eq!(body["errorType"], "OutOfMemory");
        assert!(
            body["errorMessage"]
                .as_str()
                .unwrap()
                .contains("memory limit of 128 MB")
        );
    }
}

#[test]
fn tmp_is_writable_code_is_read_only_and_the_host_is_invisible() {
    for target in TARGETS {
        let p = project("", target);
        let out = p.invoke("files", b"", &[]);
        assert!(out.status.success(), "{}", stderr(&out));
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["wrote"], true);
        assert_eq!(v["read_back"], "scratch data");
        assert!(
            v["code"]
                .as_array()
                .unwrap()
                .iter()
                .any(|f| f == "files.wasm"),
            "{v}"
        );
        assert_eq!(v["code_writable"], false);
        assert_eq!(v["host_visible"], false);
    }
}

#[test]
fn deterministic_json_output_is_stable() {
    let p = project("", Target::P1);
    let run = || {
        let out = p.invoke("echo", b"{\"n\":1}", &["--deterministic", "--json"]);
        assert!(out.status.success());
        let mut v: Value = serde_json::from_slice(&out.stdout).unwrap();
        v["durationMs"] = Value::Null;
        v["billedMs"] = Value::Null;
        v
    };
    let first = run();
    assert_eq!(first, run());
    insta::assert_json_snapshot!(first);
}

#[test]
fn unknown_function_names_the_ones_that_exist() {
    let p = project("", Target::P1);
    let out = p.invoke("ecko", b"", &[]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("no function named \"ecko\""), "{err}");
    assert!(err.contains("echo, env, fail"), "{err}");
}

#[test]
fn a_broken_manifest_is_reported_with_file_line_and_fix() {
    let p = Project::new("[functions.a]\ncode = \"a.wasm\"\nmemroy = 128\n");
    let out = p.invoke("a", b"", &[]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("fcemu.toml:3:1: unknown field `memroy`"),
        "{err}"
    );
    assert!(err.contains("did you mean `memory`?"), "{err}");
}

#[test]
fn a_missing_event_file_is_named() {
    let p = project("", Target::P1);
    let out = p
        .fcemu(&["invoke", "echo", "--event", "nope.json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("cannot read event file nope.json"),
        "{}",
        stderr(&out)
    );
}

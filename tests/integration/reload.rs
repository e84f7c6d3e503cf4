//! Hot reload under `fcemu up`: new code goes live, bad changes keep the running version, builds
//! run on source changes, and no request fails while code is swapped.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

use crate::support::*;

/// Upper bound for a change to be seen; reloads take milliseconds, CI machines can be slow.
const WAIT: Duration = Duration::from_secs(20);

/// A project with function `f` whose code is `f.wasm`, a copy of the echo fixture.
fn echo_project(target: Target, extra: &str) -> Project {
    let p = Project::new(&format!("[functions.f]\ncode = \"f.wasm\"\n{extra}"));
    std::fs::copy(fixture("echo", target), p.path().join("f.wasm")).unwrap();
    p
}

fn output_of(server: &Server, function: &str) -> String {
    let r = server.invoke(function, "ping");
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.error_type, None, "{r:?}");
    r.body
}

/// Waits until `function` exists and answers `expected`.
fn wait_for_output(server: &Server, function: &str, expected: &str) {
    poll_until(WAIT, || {
        let r = server.invoke(function, "ping");
        (r.status == 200 && r.error_type.is_none() && r.body == expected).then_some(())
    });
}

fn write_manifest(p: &Project, text: &str) {
    std::fs::write(p.path().join("fcemu.toml"), text).unwrap();
}

fn functions(server: &Server) -> Value {
    server.get("/_fcemu/functions").json().unwrap()
}

#[test]
fn a_changed_wasm_file_goes_live_and_the_reload_is_reported() {
    for target in [Target::P1, Target::P2] {
        let p = echo_project(target, "");
        // An empty module cache, so the reload compiles.
        let cache = tempfile::tempdir().unwrap();
        let server = Server::start_with_env(&p, &[], &[("FCEMU_CACHE_DIR", cache.path())]);
        server
            .log
            .wait_for_text(WAIT, "fcemu: watching fcemu.toml and 1 code file");
        let first = server.invoke("f", "ping");
        assert_eq!(first.body, "ping");
        assert!(first.request_id.is_some(), "{first:?}");
        let before = functions(&server);
        assert_eq!(before["functions"][0]["reloads"], 0);

        std::fs::copy(fixture("hello", target), p.path().join("f.wasm")).unwrap();
        wait_for_output(&server, "f", "hello");

        let log = server.log.wait_for_text(WAIT, "fcemu: reloaded f (code ");
        let line = log
            .lines()
            .find(|l| l.starts_with("fcemu: reloaded f (code "))
            .unwrap();
        assert!(
            line.contains(", live in ") && line.contains(" ms, generation "),
            "{line}"
        );
        let after = functions(&server);
        assert_eq!(after["functions"][0]["reloads"], 1, "{after}");
        assert_ne!(
            after["functions"][0]["codeHash"],
            before["functions"][0]["codeHash"]
        );
        assert!(after["generation"].as_u64() > before["generation"].as_u64());

        // Baseline code goes live first; optimized code replaces it without counting as a reload.
        assert!(line.contains("baseline"), "{line}");
        poll_until(WAIT, || {
            let f = &functions(&server)["functions"][0];
            (f["tier"] == "optimized").then_some(())
        });
        assert_eq!(functions(&server)["functions"][0]["reloads"], 1);
        assert_eq!(output_of(&server, "f"), "hello");
    }
}

#[test]
fn a_bad_wasm_file_keeps_the_old_version_and_prints_the_error() {
    let p = echo_project(Target::P1, "");
    let server = Server::start(&p, &[]);
    assert_eq!(output_of(&server, "f"), "ping");

    std::fs::write(p.path().join("f.wasm"), b"\0asm\x01\0\0\0not really wasm").unwrap();
    let log = server.log.wait_for_text(WAIT, "fcemu: reload of f failed");
    assert!(log.contains("still serving code "), "{log}");
    assert_eq!(output_of(&server, "f"), "ping");
    assert_eq!(functions(&server)["functions"][0]["reloads"], 0);

    // The next good file recovers by itself.
    std::fs::copy(fixture("hello", Target::P1), p.path().join("f.wasm")).unwrap();
    wait_for_output(&server, "f", "hello");
}

#[test]
fn a_broken_manifest_keeps_the_running_app_and_prints_the_error_with_its_place() {
    let p = echo_project(Target::P1, "");
    let server = Server::start(&p, &[]);
    assert_eq!(output_of(&server, "f"), "ping");

    write_manifest(&p, "[functions.f]\ncode = \"f.wasm\"\nmemroy = 256\n");
    let log = server.log.wait_for(WAIT, |t| {
        t.contains("fcemu.toml not applied") && t.contains("did you mean `memory`?")
    });
    assert!(log.contains("still serving the previous version"), "{log}");
    assert!(log.contains("fcemu.toml:3:1"), "{log}");
    assert_eq!(output_of(&server, "f"), "ping");

    write_manifest(&p, "[functions.f]\ncode = \"f.wasm\"\nmemory = 256\n");
    server
        .log
        .wait_for_text(WAIT, "fcemu: applied fcemu.toml: changed f");
    assert_eq!(functions(&server)["functions"][0]["memory"], 256);
    assert_eq!(output_of(&server, "f"), "ping");
}

#[test]
fn a_manifest_edit_adds_and_removes_functions_without_a_restart() {
    let p = echo_project(Target::P1, "");
    let server = Server::start(&p, &[]);
    assert_eq!(output_of(&server, "f"), "ping");

    let g = function_toml("g", "hello", Target::P1, "");
    write_manifest(&p, &format!("[functions.f]\ncode = \"f.wasm\"\n{g}"));
    wait_for_output(&server, "g", "hello");
    server
        .log
        .wait_for_text(WAIT, "fcemu: applied fcemu.toml: added g");
    assert_eq!(output_of(&server, "f"), "ping", "f is kept as it was");
    let list = functions(&server);
    assert_eq!(list["functions"][0]["reloads"], 0, "{list}");

    write_manifest(&p, &g);
    poll_until(WAIT, || {
        (server.invoke("f", "ping").status == 404).then_some(())
    });
    let names: Vec<Value> = functions(&server)["functions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].clone())
        .collect();
    assert_eq!(names, ["g"]);
    assert_eq!(output_of(&server, "g"), "hello");
}

#[test]
fn a_failing_build_keeps_the_old_version_and_the_next_good_build_recovers() {
    let p = echo_project(
        Target::P1,
        "build = \"echo building f; test ! -e src/broken && cp src/f.wasm f.wasm\"\nwatch = [\"src/**\"]\n",
    );
    let src = p.path().join("src");
    std::fs::create_dir(&src).unwrap();
    std::fs::copy(fixture("echo", Target::P1), src.join("f.wasm")).unwrap();
    let server = Server::start(&p, &[]);
    server
        .log
        .wait_for_text(WAIT, "and the sources of 1 function with a build command");
    assert_eq!(output_of(&server, "f"), "ping");

    std::fs::write(src.join("broken"), "").unwrap();
    let log = server
        .log
        .wait_for_text(WAIT, "fcemu: build of f failed (exit status 1");
    assert!(log.contains("fcemu: building f: echo building f;"), "{log}");
    assert!(
        log.contains("f build │ building f"),
        "output is streamed: {log}"
    );
    assert!(log.contains("still serving code "), "{log}");
    assert_eq!(output_of(&server, "f"), "ping");

    std::fs::copy(fixture("hello", Target::P1), src.join("f.wasm")).unwrap();
    std::fs::remove_file(src.join("broken")).unwrap();
    wait_for_output(&server, "f", "hello");
    let log = server.log.wait_for_text(WAIT, "fcemu: rebuilt f (build ");
    assert!(log.contains(", live in "), "{log}");
}

#[test]
fn requests_in_flight_while_code_is_swapped_all_succeed() {
    const THREADS: usize = 16;
    const AT_LEAST: usize = 200;
    let p = echo_project(Target::P1, "");
    let server = Server::start(&p, &[]);
    assert_eq!(output_of(&server, "f"), "ping");

    let swapping = Arc::new(AtomicBool::new(true));
    let done = Arc::new(AtomicUsize::new(0));
    let failures = Arc::new(Mutex::new(Vec::new()));
    let clients: Vec<_> = (0..THREADS)
        .map(|_| {
            let (services, swapping, done, failures) = (
                server.services.clone(),
                swapping.clone(),
                done.clone(),
                failures.clone(),
            );
            std::thread::spawn(move || {
                while swapping.load(Ordering::SeqCst) || done.load(Ordering::SeqCst) < AT_LEAST {
                    let r = invoke_at(&services, "f", "ping");
                    if r.status != 200
                        || r.error_type.is_some()
                        || !["ping", "hello"].contains(&r.body.as_str())
                    {
                        failures.lock().unwrap().push(r);
                    }
                    done.fetch_add(1, Ordering::SeqCst);
                }
            })
        })
        .collect();

    // Truncate-and-write, as many tools do: the reloader must never load half a file.
    let swap_to = |fixture_name: &str| {
        let bytes = std::fs::read(fixture(fixture_name, Target::P1)).unwrap();
        std::fs::write(p.path().join("f.wasm"), bytes).unwrap();
    };
    for round in 0..3 {
        swap_to("hello");
        wait_for_output(&server, "f", "hello");
        swap_to("echo");
        wait_for_output(&server, "f", "ping");
        eprintln!("swap round {round} done");
    }
    swapping.store(false, Ordering::SeqCst);
    for c in clients {
        c.join().unwrap();
    }
    let failures = failures.lock().unwrap();
    assert!(
        failures.is_empty(),
        "{} failed: {:?}",
        failures.len(),
        &failures[..failures.len().min(5)]
    );
    assert!(done.load(Ordering::SeqCst) >= AT_LEAST);
    assert_eq!(functions(&server)["functions"][0]["reloads"], 6);
    assert!(
        !server.log.text().contains("reload of f failed"),
        "a half-written file was reported as an error:\n{}",
        server.log.text()
    );
}

#[test]
fn no_watch_starts_no_watcher() {
    let p = echo_project(Target::P1, "");
    let server = Server::start(&p, &["--no-watch"]);
    let log = server.log.wait_for_text(WAIT, "HTTP_PROXY=");
    assert!(!log.contains("fcemu: watching"), "{log}");
    assert_eq!(output_of(&server, "f"), "ping");
}

#[test]
fn the_admin_invoke_reports_function_errors_and_unknown_functions() {
    let p = Project::new(&function_toml("fail", "fail", Target::P1, ""));
    let server = Server::start(&p, &["--no-watch"]);
    let r = server.invoke("fail", "{}");
    assert_eq!(r.status, 200);
    assert_eq!(
        r.error_type.as_deref(),
        Some("HandledInvocationError"),
        "{r:?}"
    );
    assert!(r.request_id.is_some());
    let missing = server.invoke("nope", "{}");
    assert_eq!(missing.status, 404);
    assert!(missing.body.contains("FunctionNotFound"), "{missing:?}");
}

//! `fcemu test`: case files, snapshots of a step's whole causal chain, byte-identical runs,
//! failures with a diff and a `.snap.new`, `--accept`, `--junit`, and broken cases reported while
//! the others run.

use crate::support::*;

const CASE: &str = r#"
[[setup.objects]]
bucket = "uploads"
key = "readme.txt"
body = "hello"

[[steps]]
invoke = "thumb"
event = { text = "a b c" }

[[steps]]
put_object = { bucket = "uploads", key = "photos/cat.jpg", body = "meow" }

[[steps]]
advance = "3h"
"#;

fn project(payload: &str) -> Project {
    let manifest = format!(
        "[services.media]\nlog_project = \"media-logs\"\nlog_store = \"fc-logs\"\n\n[tables.photos]\nprimary_key = [[\"id\", \"STRING\"], [\"n\", \"INTEGER\"]]\nstream = true\n\n{}",
        function_toml(
            "thumb",
            "echo",
            Target::P1,
            &format!(
                "service = \"media\"\n[[functions.thumb.triggers]]\ntype = \"oss\"\nbucket = \"uploads\"\nprefix = \"photos/\"\n[[functions.thumb.triggers]]\ntype = \"timer\"\nname = \"nightly\"\ncron = \"0 0 2 * * *\"\npayload = \"{payload}\"\n"
            ),
        )
    );
    let p = Project::new(&manifest);
    std::fs::create_dir_all(p.path().join("tests/fcemu")).unwrap();
    std::fs::write(p.path().join("tests/fcemu/upload.toml"), CASE).unwrap();
    p
}

fn test_cmd(p: &Project, args: &[&str]) -> (bool, String) {
    let mut all = vec!["test"];
    all.extend_from_slice(args);
    let out = p.fcemu(&all).output().unwrap();
    (out.status.success(), stdout(&out))
}

#[test]
fn a_case_is_snapshotted_whole_and_identically_and_a_change_fails_with_a_diff() {
    let p = project("compact");
    let snap = p.path().join("tests/fcemu/snapshots/upload.snap");
    let new = p.path().join("tests/fcemu/snapshots/upload.snap.new");

    // No snapshot yet: the case fails and writes .snap.new; --accept writes .snap.
    let (ok, out) = test_cmd(&p, &[]);
    assert!(!ok && out.contains("no snapshot yet"), "{out}");
    assert!(new.exists());
    let (ok, out) = test_cmd(&p, &["--accept"]);
    assert!(ok, "{out}");
    assert!(out.ends_with("1 passed, 0 failed\n"), "{out}");
    assert!(!new.exists(), "--accept removes the stale .snap.new");
    let first = std::fs::read_to_string(&snap).unwrap();
    assert!(
        first.starts_with("---\nsource: "),
        "insta's header: {first}"
    );
    insta::assert_snapshot!("fcemu_test_upload", first.split("\n---\n").nth(1).unwrap());

    // The same case again: byte-identical, passes.
    let (ok, out) = test_cmd(&p, &[]);
    assert!(ok, "{out}");
    assert_eq!(std::fs::read_to_string(&snap).unwrap(), first);

    // A changed output fails with a diff and a .snap.new.
    let changed = project("full");
    std::fs::create_dir_all(changed.path().join("tests/fcemu/snapshots")).unwrap();
    std::fs::write(
        changed.path().join("tests/fcemu/snapshots/upload.snap"),
        &first,
    )
    .unwrap();
    let junit = changed.path().join("report.xml");
    let junit_arg = junit.display().to_string();
    let (ok, out) = test_cmd(&changed, &["--junit", &junit_arg]);
    assert!(!ok, "{out}");
    assert!(out.contains("FAILED"), "{out}");
    assert!(out.contains("-          payload: compact"), "{out}");
    assert!(out.contains("+          payload: full"), "{out}");
    assert!(
        changed
            .path()
            .join("tests/fcemu/snapshots/upload.snap.new")
            .exists()
    );
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.starts_with("<?xml version=\"1.0\""), "{xml}");
    assert!(xml.contains("tests=\"1\" failures=\"1\""), "{xml}");
    assert!(xml.contains("<failure message="), "{xml}");
}

#[test]
fn a_broken_case_is_reported_and_the_others_run() {
    let p = project("compact");
    std::fs::write(
        p.path().join("tests/fcemu/a_broken.toml"),
        "[[steps]]\ninvoke = \"thumb\"\nadvance = \"1h\"\n",
    )
    .unwrap();
    std::fs::write(
        p.path().join("tests/fcemu/b_typo.toml"),
        "[[stepz]]\ninvoke = \"thumb\"\n",
    )
    .unwrap();
    std::fs::write(
        p.path().join("tests/fcemu/c_setup.toml"),
        "[[setup.rows]]\ntable = \"photos\"\nprimary_key = { n = 1, id = \"p1\" }\ncolumns = { title = \"first\", size = 3 }\n\n[[setup.logs]]\nproject = \"media-logs\"\nlogstore = \"fc-logs\"\nlogs = [{ level = \"info\", n = 1 }]\n\n[[steps]]\ninvoke = \"thumb\"\nevent = \"x\"\n",
    )
    .unwrap();
    std::fs::write(
        p.path().join("tests/fcemu/d_badrow.toml"),
        "[[setup.rows]]\ntable = \"nope\"\nprimary_key = { id = \"p1\" }\n\n[[steps]]\ninvoke = \"thumb\"\n",
    )
    .unwrap();
    let (ok, out) = test_cmd(&p, &["--accept"]);
    assert!(!ok, "{out}");
    assert!(
        out.contains("a_broken.toml: step 1 must have exactly one of invoke"),
        "{out}"
    );
    assert!(
        out.contains("ok     ") && out.contains("c_setup.toml"),
        "{out}"
    );
    assert!(
        out.contains("setup row: table nope is not declared in the manifest"),
        "{out}"
    );
    assert!(
        out.contains("b_typo.toml:1:3: unknown field `stepz`"),
        "{out}"
    );
    assert!(out.contains("ok     "), "the good case still ran: {out}");
    assert!(out.ends_with("2 passed, 3 failed\n"), "{out}");
    let (_, out) = test_cmd(&p, &["--filter", "upload"]);
    assert!(out.ends_with("1 passed, 0 failed\n"), "{out}");
}

/// The steps of [`CASE`], through the Rust harness.
async fn harness_steps(emu: &mut fcemu::testing::Emulator) {
    let r = emu.invoke("thumb", "{\"text\":\"a b c\"}").await.unwrap();
    assert_eq!(r["status"], 200);
    emu.put_object("uploads", "photos/cat.jpg", b"meow".to_vec())
        .await
        .unwrap();
    emu.advance(std::time::Duration::from_secs(3 * 3600))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rust_harness_records_steps_as_fcemu_test_does() {
    let p = project("compact");
    let text = std::fs::read_to_string(p.path().join("fcemu.toml")).unwrap();
    let mut emu = fcemu::testing::Emulator::from_toml(p.path(), &text)
        .await
        .unwrap();
    harness_steps(&mut emu).await;
    let triggers: Vec<String> = emu
        .invocations()
        .iter()
        .map(|i| i["trigger"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(triggers, ["admin", "oss-1", "nightly"]);
    let first = emu.snapshot();
    assert_eq!(first["steps"][1]["objects"][0]["content"], "meow");

    // After a reset the same steps give the same record.
    emu.reset().await.unwrap();
    harness_steps(&mut emu).await;
    assert_eq!(emu.snapshot(), first);
    assert!(emu.snapshot_text("harness").await.starts_with("---\n"));
    emu.shutdown().await;
}

//! Golden tests of the mapping, from real-world files in `fixtures/import/`.

use std::path::PathBuf;

use super::import_with;

fn fixture(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/import")
        .join(rel)
}

fn imported(rel: &str) -> String {
    imported_with(rel, &[])
}

fn imported_with(rel: &str, vars: &[(&str, &str)]) -> String {
    let path = fixture(rel);
    let text = std::fs::read_to_string(&path).unwrap();
    let vars: Vec<(String, String)> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let toml = match import_with(&path, &text, &vars) {
        Ok(i) => i.toml,
        Err(e) => panic!("{}", e.render_plain()),
    };
    // What the import produces passes fcemu.toml's own checks.
    if let Err(e) = crate::manifest::parse(&path.with_file_name("imported.toml"), &toml) {
        panic!("{}\n{toml}", e.render_plain());
    }
    toml
}

fn problems(rel: &str) -> String {
    let path = fixture(rel);
    let text = std::fs::read_to_string(&path).unwrap();
    let e = import_with(&path, &text, &[]).expect_err("the file has problems");
    e.problems()
        .iter()
        .map(|p| format!("{p}\n  help: {}", p.help().unwrap_or("")))
        .collect::<Vec<_>>()
        .join("\n")
        .replace(&fixture("").display().to_string(), "")
}

#[test]
fn fc3_http_start_template() {
    insta::assert_snapshot!(imported("fc3-http-nodejs/src/s.yaml"));
}

#[test]
fn fc3_oss_trigger_with_async_destination() {
    insta::assert_snapshot!(imported_with(
        "fc3-oss-unzip/src/s.yaml",
        &[("bucketName", "uploads"), ("prefix", "zips/")]
    ));
}

#[test]
fn fc3_timer_log_tablestore_and_unserved_triggers() {
    insta::assert_snapshot!(imported("fc3-triggers/s.yaml"));
}

#[test]
fn fc3_custom_runtime() {
    insta::assert_snapshot!(imported("fc3-custom/s.yaml"));
}

#[test]
fn fc2_service_with_http_function() {
    insta::assert_snapshot!(imported("fc2-http/src/s.yaml"));
}

#[test]
fn funcraft_template_with_events_tables_and_logstores() {
    insta::assert_snapshot!(imported("funcraft/template.yml"));
}

#[test]
fn errors_name_the_line_and_the_fix() {
    insta::assert_snapshot!(problems("errors/s.yaml"));
}

//! Manifest errors as the user sees them, snapshotted.

use std::path::Path;

fn render(manifest: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("fn.wasm"), b"\0asm\x01\0\0\0").unwrap();
    let path = dir.path().join("fcemu.toml");
    let err = super::parse(&path, manifest).expect_err("manifest should be rejected");
    err.render_plain()
        .replace(&dir.path().display().to_string(), "[ROOT]")
}

macro_rules! snapshot_error {
    ($name:ident, $manifest:expr) => {
        #[test]
        fn $name() {
            insta::assert_snapshot!(render($manifest));
        }
    };
}

snapshot_error!(
    unknown_key_suggests_the_nearest,
    "[functions.f]\ncode = \"fn.wasm\"\nmemroy = 128\n"
);
snapshot_error!(
    unknown_top_level_table,
    "[function.f]\ncode = \"fn.wasm\"\n"
);
snapshot_error!(
    unknown_trigger_type,
    "[functions.f]\ncode = \"fn.wasm\"\n[[functions.f.triggers]]\ntype = \"htp\"\npath = \"/\"\n"
);
snapshot_error!(
    missing_trigger_field,
    "[functions.f]\ncode = \"fn.wasm\"\n[[functions.f.triggers]]\ntype = \"http\"\nmethods = [\"GET\"]\n"
);
snapshot_error!(
    wrong_type,
    "[functions.f]\ncode = \"fn.wasm\"\nmemory = \"lots\"\n"
);
snapshot_error!(toml_syntax_error, "[functions.f\ncode = \"fn.wasm\"\n");
snapshot_error!(
    out_of_range_values_are_all_reported,
    "[functions.f]\ncode = \"fn.wasm\"\nmemory = 100\ntimeout = 0\nconcurrency = 5000\nenv = { FC_SECRET = \"x\", \"1bad\" = \"y\" }\n"
);
snapshot_error!(
    missing_code_file,
    "[functions.f]\ncode = \"target/wasm32-wasip1/release/f.wasm\"\n"
);
snapshot_error!(missing_code_key, "[functions.f]\nmemory = 128\n");
snapshot_error!(
    undeclared_service,
    "[services.media]\n[functions.f]\ncode = \"fn.wasm\"\nservice = \"medai\"\n"
);
snapshot_error!(
    bad_trigger_values,
    "[functions.f]\ncode = \"fn.wasm\"\n[[functions.f.triggers]]\ntype = \"http\"\nmethods = [\"FETCH\"]\npath = \"photos\"\nformat = \"v2\"\n[[functions.f.triggers]]\ntype = \"oss\"\nbucket = \"Bad_Bucket\"\nevents = [\"ObjectMade:*\"]\n"
);
snapshot_error!(
    bad_tables_and_logstores,
    "[tables.t]\ninstance = \"x\"\nprimary_key = [[\"id\", \"FLOAT\"]]\nttl = 5\n[tables.nokey]\n[logstores.alone]\n[logstores.\"P/ok\"]\nshards = 0\n[batch]\nworkers = 0\nlog_store = \"jobs\"\n"
);
snapshot_error!(
    duplicate_routes,
    "[functions.a]\ncode = \"fn.wasm\"\n[[functions.a.triggers]]\ntype = \"http\"\nmethods = [\"GET\"]\npath = \"/x\"\n[functions.b]\ncode = \"fn.wasm\"\n[[functions.b.triggers]]\ntype = \"http\"\nmethods = [\"GET\"]\npath = \"/x\"\n"
);
snapshot_error!(
    bad_native_functions,
    "[functions.a]\nruntime = \"nodejs99\"\ncode = \"missing/\"\n[functions.b]\nruntime = \"python3.10\"\ncode = \".\"\ncommand = [\"python3\"]\nport = 70000\ninitialization_timeout = 0\n[functions.c]\ncode = \"fn.wasm\"\nport = 9000\n[functions.d]\nruntime = \"custom\"\ncode = \".\"\ncommand = []\n"
);

#[test]
fn a_full_manifest_resolves_with_defaults() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("fn.wasm"), b"\0asm\x01\0\0\0").unwrap();
    let text = r#"
name = "photo-app"
[services.media]
log_project = "logs"
log_store = "fc"
[functions.thumb]
service = "media"
code = "fn.wasm"
memory = 256
timeout = 30
concurrency = 4
env = { OUT = "thumbs" }
  [[functions.thumb.triggers]]
  type = "oss"
  bucket = "uploads"
  events = ["oss:ObjectCreated:*"]
  prefix = "photos/"
  suffix = ".jpg"
  [[functions.thumb.triggers]]
  type = "timer"
  name = "nightly"
  cron = "0 0 2 * * *"
  payload = "compact"
  [[functions.thumb.triggers]]
  type = "tablestore"
  instance = "photos"
  table = "photos"
[functions.api]
code = "fn.wasm"
  [[functions.api.triggers]]
  type = "http"
  methods = ["get", "POST"]
  path = "/photos/{id}"
[buckets.uploads]
acl = "public-read"
cors = [{ allowed_origins = ["http://localhost:3000"], allowed_methods = ["GET", "PUT"], allowed_headers = ["*"], max_age_seconds = 600 }]
[tables.photos]
primary_key = [["id", "string"], ["n", "INTEGER"]]
stream = true
[tables.plain]
primary_key = [["k", "BINARY"]]
max_versions = 3
[logstores."logs/app"]
shards = 4
[batch]
workers = 3
log_project = "logs"
log_store = "app"
"#;
    let plan = super::parse(&dir.path().join("fcemu.toml"), text).unwrap();
    let mut settings = insta::Settings::clone_current();
    settings.add_filter(&regex_escape(&dir.path().display().to_string()), "[ROOT]");
    settings.bind(|| insta::assert_yaml_snapshot!(plan));
    assert!(Path::new(&plan.functions["thumb"].code).is_absolute());
}

fn regex_escape(s: &str) -> String {
    s.chars()
        .flat_map(|c| {
            if "\\.+*?()|[]{}^$".contains(c) {
                vec!['\\', c]
            } else {
                vec![c]
            }
        })
        .collect()
}

snapshot_error!(
    bad_buckets,
    "[buckets.web]\nacl = \"public\"\ncors = [{ allowed_origins = [\"http://*.*.example\"], allowed_methods = [\"GET\"] }]\n[buckets.api]\ncors = [{ allowed_origins = [\"*\"], allowed_methods = [\"PATCH\"] }]\n"
);

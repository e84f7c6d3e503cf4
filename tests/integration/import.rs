//! Projects that already have a manifest: `fcemu up` in a directory with a Serverless Devs
//! `s.yaml` (and no `fcemu.toml`) serves it — the HTTP route answers, the OSS trigger fires on an
//! upload, the timer fires on the virtual clock — and `fcemu import` prints the fcemu.toml.

use std::time::Duration;

use serde_json::Value;

use crate::support::*;

const S_YAML: &str = r#"
edition: 3.0.0
name: photo-app
access: "{{ access }}"
vars:
  region: "{{ region }}"
resources:
  web:
    component: fc3
    props:
      region: ${vars.region}
      functionName: "{{ functionName }}"
      runtime: nodejs20
      code: ./code
      handler: index.handler
      memorySize: 128
      timeout: 10
      vpcConfig: auto
      triggers:
        - triggerName: httpTrigger
          triggerType: http
          triggerConfig:
            authType: anonymous
            methods: [GET, POST]
        - triggerName: on-upload
          triggerType: oss
          sourceArn: acs:oss:${this.props.region}:${config("AccountID")}:uploads
          triggerConfig:
            events: ["oss:ObjectCreated:*"]
            filter:
              key:
                prefix: photos/
        - triggerName: nightly
          triggerType: timer
          triggerConfig:
            cronExpression: "0 0 2 * * *"
            enable: true
            payload: compact
"#;

const PUBLISH_YAML: &str = r#"
Edition: 3.0.0
Type: Project
Parameters:
  type: object
  properties:
    region:
      type: string
      default: cn-shanghai
    functionName:
      type: string
      default: start-web-${default-suffix}
"#;

const HANDLER: &str = r#"
exports.handler = async (event, context) => {
  const e = JSON.parse(event.toString());
  if (e.requestContext) return { statusCode: 200, body: `hello from ${e.rawPath} in ${context.region}` };
  return e;
};
"#;

fn project() -> Project {
    let p = Project::new("");
    std::fs::remove_file(p.path().join("fcemu.toml")).unwrap();
    std::fs::write(p.path().join("s.yaml"), S_YAML).unwrap();
    std::fs::write(p.path().join("publish.yaml"), PUBLISH_YAML).unwrap();
    std::fs::create_dir(p.path().join("code")).unwrap();
    std::fs::write(p.path().join("code/index.js"), HANDLER).unwrap();
    p
}

#[test]
fn an_s_yaml_project_starts_as_it_is() {
    let p = project();
    let server = Server::start(&p, &["--deterministic", "--var", "functionName=web"]);
    let log = server
        .log
        .wait_for_text(Duration::from_secs(30), "fcemu: web answers at ");
    assert!(
        log.contains("fcemu: using s.yaml (Serverless Devs"),
        "{log}"
    );
    assert!(log.contains("function web: vpcConfig"), "{log}");

    assert!(log.contains("fcemu: web answers at "), "{log}");
    // Under /{functionName}/, at {functionName}.localhost, and (the only HTTP function) at /:
    // each time the function sees the path without the prefix.
    let client = reqwest::blocking::Client::new();
    let port = server.gateway.rsplit(':').next().unwrap().to_string();
    for (url, host) in [
        (format!("{}/web/hi", server.gateway), None),
        (format!("{}/hi", server.gateway), None),
        (
            format!("{}/hi", server.gateway),
            Some(format!("web.localhost:{port}")),
        ),
    ] {
        let mut req = client.get(&url);
        if let Some(h) = &host {
            req = req.header("host", h);
        }
        let r = req.send().unwrap();
        assert_eq!(r.status(), 200, "{url} {host:?}");
        assert_eq!(
            r.text().unwrap(),
            "hello from /hi in cn-shanghai",
            "{url} {host:?}"
        );
    }

    let put = reqwest::blocking::Client::new()
        .put(format!("{}/uploads/photos/cat.jpg", server.services))
        .body("meow")
        .send()
        .unwrap();
    assert_eq!(put.status(), 200);
    let advance = reqwest::blocking::Client::new()
        .post(format!("{}/_fcemu/clock/advance?by=3h", server.services))
        .send()
        .unwrap();
    assert!(advance.status().is_success());
    server.idle();
    let v: Value = server
        .get("/_fcemu/invocations?function=web")
        .json()
        .unwrap();
    let mut triggers: Vec<String> = v["invocations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["trigger"].as_str().unwrap().to_string())
        .collect();
    triggers.sort();
    assert_eq!(
        triggers,
        [
            "httpTrigger",
            "httpTrigger",
            "httpTrigger",
            "nightly",
            "on-upload"
        ]
    );

    // Hot reload watches the s.yaml.
    let edited = S_YAML.replace("timeout: 10", "timeout: 42");
    std::fs::write(p.path().join("s.yaml"), edited).unwrap();
    poll_until(Duration::from_secs(30), || {
        let v: Value = server.get("/_fcemu/functions").json().unwrap();
        (v["functions"][0]["timeout"] == 42).then_some(())
    });
}

#[test]
fn fcemu_import_prints_the_manifest_and_errors_name_the_placeholder() {
    let p = project();
    let out = p
        .fcemu(&["import", "--var", "functionName=web"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let toml = stdout(&out);
    assert!(toml.contains("#   - function web: vpcConfig"), "{toml}");
    assert!(toml.contains("[functions.web]"), "{toml}");
    assert!(toml.contains("bucket = \"uploads\""), "{toml}");

    std::fs::remove_file(p.path().join("publish.yaml")).unwrap();
    let out = p
        .fcemu(&["up", "--listen", "127.0.0.1:0", "--in-memory"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("s.yaml:6:11: template placeholder `{{ region }}` has no value"),
        "{err}"
    );
    assert!(err.contains("--var region=VALUE"), "{err}");
}

#[test]
fn the_golden_projects_start_and_their_http_functions_answer() {
    let dir = repo_root().join("fixtures/import");
    let p = Project::new("");
    for (file, vars) in [
        ("fc3-http-nodejs/src/s.yaml", vec![]),
        (
            "fc3-oss-unzip/src/s.yaml",
            vec!["--var", "bucketName=uploads", "--var", "prefix=zips/"],
        ),
        ("fc3-triggers/s.yaml", vec![]),
        ("fc3-custom/s.yaml", vec![]),
        ("fc2-http/src/s.yaml", vec![]),
        ("funcraft/template.yml", vec![]),
    ] {
        let manifest = dir.join(file).display().to_string();
        let mut args = vec!["-m", manifest.as_str(), "--no-watch"];
        args.extend(vars);
        let server = Server::start(&p, &args);
        match file {
            "fc3-http-nodejs/src/s.yaml" => {
                let r = reqwest::blocking::get(format!("{}/start-nodejs-local/x", server.gateway))
                    .unwrap();
                assert_eq!(r.status(), 200);
                assert_eq!(r.text().unwrap(), "hello /x");
            }
            "fc2-http/src/s.yaml" => {
                for path in [
                    "/2016-08-15/proxy/hello-world-service/start-fc-http-python3/",
                    "/hello-world-service/start-fc-http-python3/",
                ] {
                    let base = if path.starts_with("/2016") {
                        &server.services
                    } else {
                        &server.gateway
                    };
                    let r = reqwest::blocking::get(format!("{base}{path}")).unwrap();
                    assert_eq!(r.status(), 200, "{path}");
                    assert_eq!(r.text().unwrap(), "hello world", "{path}");
                }
            }
            _ => {}
        }
    }
}

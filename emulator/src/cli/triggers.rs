//! `fcemu triggers`: the triggers of a running emulator and their last and next firing.

use std::process::ExitCode;

use clap::Args;

/// Options of `fcemu triggers`.
#[derive(Debug, Args)]
pub struct TriggersArgs {
    /// The running emulator's services endpoint.
    #[arg(long, env = "FCEMU_ENDPOINT", default_value = "http://127.0.0.1:9000")]
    pub services: String,

    /// Print the JSON from `GET /_fcemu/triggers` as it is.
    #[arg(long)]
    pub json: bool,
}

pub(super) async fn run(args: TriggersArgs) -> anyhow::Result<ExitCode> {
    let url = format!("{}/_fcemu/triggers", args.services.trim_end_matches('/'));
    let resp = reqwest::get(&url).await.map_err(|e| {
        anyhow::anyhow!(
            "cannot reach fcemu at {} ({e}); start it with `fcemu up`, or pass --services",
            args.services
        )
    })?;
    let body: serde_json::Value = resp.json().await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&body)?);
        return Ok(ExitCode::SUCCESS);
    }
    let triggers = body["triggers"].as_array().cloned().unwrap_or_default();
    if triggers.is_empty() {
        println!("no triggers");
    }
    println!(
        "{:<20} {:<20} {:<11} {:<8} {:<26} NEXT",
        "FUNCTION", "TRIGGER", "TYPE", "ENABLED", "LAST FIRING"
    );
    for t in triggers {
        let last = match &t["lastFiring"] {
            serde_json::Value::Null => "never".to_string(),
            l => format!(
                "{} {}",
                l["startedAt"].as_str().unwrap_or(""),
                l["status"].as_str().unwrap_or("")
            ),
        };
        println!(
            "{:<20} {:<20} {:<11} {:<8} {:<26} {}",
            t["function"].as_str().unwrap_or(""),
            t["name"].as_str().unwrap_or(""),
            t["type"].as_str().unwrap_or(""),
            t["enabled"],
            last,
            t["nextFiring"].as_str().unwrap_or("-")
        );
    }
    Ok(ExitCode::SUCCESS)
}

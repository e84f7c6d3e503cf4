//! `fcemu events generate`: print the exact event a trigger would deliver, to pipe into
//! `fcemu invoke <fn> --event -` or save as a test case.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use fcemu_core::{Clock, IdGen};

use crate::triggers::synthetic::{self, SyntheticEvent};

/// Options of `fcemu events`.
#[derive(Debug, Args)]
pub struct EventsArgs {
    /// What to do with events.
    #[command(subcommand)]
    pub command: EventsCommand,
}

/// `fcemu events` subcommands.
#[derive(Debug, Subcommand)]
pub enum EventsCommand {
    /// Print the event a trigger would deliver (filled from the manifest where it can be).
    Generate(GenerateArgs),
}

/// Options of `fcemu events generate`.
#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// The kind of event.
    #[command(subcommand)]
    pub kind: Kind,

    /// Virtual clock at 2024-01-01T00:00:00Z and sequential ids: the same flags print the same
    /// bytes.
    #[arg(long, global = true)]
    pub deterministic: bool,

    /// Pretty-print JSON events (the function receives them compact).
    #[arg(long, global = true)]
    pub pretty: bool,
}

/// Event kinds.
#[derive(Debug, Subcommand)]
pub enum Kind {
    /// An OSS object event.
    Oss {
        /// Bucket name.
        #[arg(long)]
        bucket: String,
        /// Object key.
        #[arg(long)]
        key: String,
        /// Event name, e.g. ObjectCreated:PutObject or ObjectRemoved:DeleteObject.
        #[arg(long, default_value = "ObjectCreated:PutObject")]
        event: String,
        /// Object size in bytes.
        #[arg(long, default_value_t = 0)]
        size: u64,
        /// ETag (MD5 hex).
        #[arg(long)]
        etag: Option<String>,
        /// Content type.
        #[arg(long)]
        content_type: Option<String>,
    },
    /// A timer event.
    Timer {
        /// Function whose timer trigger to use.
        #[arg(long)]
        function: Option<String>,
        /// Trigger name.
        #[arg(long)]
        trigger: Option<String>,
        /// Payload (default: the trigger's).
        #[arg(long)]
        payload: Option<String>,
    },
    /// An API Gateway (or FC 3.0 HTTP trigger) event.
    Http {
        /// Method.
        #[arg(long, default_value = "GET")]
        method: String,
        /// Path.
        #[arg(long, default_value = "/")]
        path: String,
        /// Query string, without `?`.
        #[arg(long)]
        query: Option<String>,
        /// A header, `Name: value`; repeat for more.
        #[arg(long = "header", value_name = "NAME: VALUE")]
        headers: Vec<String>,
        /// Body text.
        #[arg(long)]
        body: Option<String>,
        /// `apigw` or `fc3`.
        #[arg(long, default_value = "apigw")]
        format: String,
    },
    /// A Log Service trigger event.
    Log {
        /// Project.
        #[arg(long)]
        project: String,
        /// Logstore.
        #[arg(long)]
        logstore: String,
        /// Shard id.
        #[arg(long, default_value_t = 0)]
        shard: u32,
    },
    /// A Table Store stream event (CBOR, as FC delivers it).
    Tablestore {
        /// Instance.
        #[arg(long)]
        instance: String,
        /// Table.
        #[arg(long)]
        table: String,
        /// Print the decoded JSON form instead of CBOR.
        #[arg(long)]
        json: bool,
    },
}

pub(super) fn run(manifest: &Path, args: EventsArgs) -> anyhow::Result<ExitCode> {
    let EventsCommand::Generate(g) = args.command;
    let (plan, _) = super::load_plan(manifest, true)?;
    let (clock, ids) = if g.deterministic {
        (Clock::deterministic(), IdGen::sequential())
    } else {
        (Clock::system(), IdGen::random())
    };
    let mut tablestore_json = false;
    let event = match g.kind {
        Kind::Oss {
            bucket,
            key,
            event,
            size,
            etag,
            content_type,
        } => SyntheticEvent::Oss {
            bucket,
            key,
            event: Some(event),
            size: Some(size),
            etag,
            content_type,
        },
        Kind::Timer {
            function,
            trigger,
            payload,
        } => SyntheticEvent::Timer {
            function,
            trigger,
            payload,
        },
        Kind::Http {
            method,
            path,
            query,
            headers,
            body,
            format,
        } => {
            let mut map = BTreeMap::new();
            for h in headers {
                let Some((k, v)) = h.split_once(':') else {
                    anyhow::bail!("--header takes `Name: value`, got {h:?}");
                };
                map.insert(k.trim().to_string(), v.trim().to_string());
            }
            SyntheticEvent::Http {
                method: Some(method),
                path: Some(path),
                query,
                headers: map,
                body,
                format: Some(format),
            }
        }
        Kind::Log {
            project,
            logstore,
            shard,
        } => SyntheticEvent::Log {
            project,
            logstore,
            shard: Some(shard),
        },
        Kind::Tablestore {
            instance,
            table,
            json,
        } => {
            tablestore_json = json;
            SyntheticEvent::Tablestore {
                instance,
                table,
                records: None,
            }
        }
    };
    let mut bytes = if tablestore_json {
        synthetic::tablestore_event(None, clock.now(), false)
    } else {
        synthetic::generate(&event, &plan, clock.now(), ids.uuid()).map_err(anyhow::Error::msg)?
    };
    if g.pretty
        && let Ok(v) = serde_json::from_slice::<serde_json::Value>(&bytes)
    {
        bytes = serde_json::to_vec_pretty(&v)?;
        bytes.push(b'\n');
    }
    std::io::stdout().write_all(&bytes)?;
    Ok(ExitCode::SUCCESS)
}

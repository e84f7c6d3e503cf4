//! `fcemu events generate`: print the exact event a trigger would deliver, to pipe into
//! `fcemu invoke <fn> --event -` or save as a test case.

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
    pub kind: SyntheticEvent,

    /// Virtual clock at 2024-01-01T00:00:00Z and sequential ids: the same flags print the same
    /// bytes.
    #[arg(long, global = true)]
    pub deterministic: bool,

    /// Pretty-print JSON events (the function receives them compact).
    #[arg(long, global = true)]
    pub pretty: bool,
}

pub(super) fn run(manifest: &Path, args: EventsArgs) -> anyhow::Result<ExitCode> {
    let EventsCommand::Generate(g) = args.command;
    let (plan, _) = super::load_plan(manifest, true)?;
    let (clock, ids) = if g.deterministic {
        (Clock::deterministic(), IdGen::sequential())
    } else {
        (Clock::system(), IdGen::random())
    };
    let bytes = synthetic::generate(&g.kind, &plan, clock.now(), ids.uuid());
    let mut bytes = bytes.map_err(anyhow::Error::msg)?;
    if g.pretty
        && let Ok(v) = serde_json::from_slice::<serde_json::Value>(&bytes)
    {
        bytes = serde_json::to_vec_pretty(&v)?;
        bytes.push(b'\n');
    }
    std::io::stdout().write_all(&bytes)?;
    Ok(ExitCode::SUCCESS)
}

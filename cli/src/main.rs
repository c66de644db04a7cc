//! `fluidcloud`: the command line over the FluidCloud core. It parses, calls the core and
//! prints; the behaviour lives in the `fluidcloud` crate.

mod args;
mod commands;
mod demo;
mod output;
mod transfer;

use std::future::Future;
use std::io::Write;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Arc;

use clap::error::{ContextKind, ContextValue, ErrorKind as ClapErrorKind};
use clap::{CommandFactory, FromArgMatches};
use fluidcloud::{CancellationToken, Client, ClientOptions};
use futures_util::future::select_all;
use tokio::signal::unix::{signal, SignalKind};

use args::{Cli, Command};
use commands::Ctx;
use output::{CliResult, Failure};

fn main() {
    let cli = match parse() {
        Ok(cli) => cli,
        Err(e) if e.use_stderr() => {
            // Not env::args(): it panics on an argument that is not UTF-8.
            let json = std::env::args_os().skip(1).any(|a| a == "--json");
            Failure::usage(format!("{} (see --help)", usage_reason(&e))).print(json);
            std::process::exit(2);
        }
        Err(e) => {
            // --help and --version.
            let _ = e.print();
            return;
        }
    };
    let json = cli.json;
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            Failure::other(format!("cannot start the async runtime: {e}")).print(json);
            std::process::exit(1);
        }
    };
    let result = runtime.block_on(run(cli));
    // Transfers may leave blocking reads behind after an error; do not wait for them.
    runtime.shutdown_background();
    if let Err(failure) = result {
        failure.print(json);
        std::process::exit(failure.exit);
    }
}

/// The command line, from `args_os` (paths need not be UTF-8).
fn parse() -> Result<Cli, clap::Error> {
    let mut matches = missing_subcommand_is_an_error(Cli::command()).try_get_matches_from(std::env::args_os())?;
    Cli::from_arg_matches_mut(&mut matches)
}

/// clap answers a command that needs a subcommand and got nothing with its whole help, as an
/// error; a MissingSubcommand error instead says what is missing and lists the choices.
fn missing_subcommand_is_an_error(cmd: clap::Command) -> clap::Command {
    let names: Vec<String> = cmd.get_subcommands().map(|c| c.get_name().to_string()).collect();
    names.iter().fold(cmd.arg_required_else_help(false), |cmd, name| cmd.mut_subcommand(name, missing_subcommand_is_an_error))
}

/// One line: the reason, not clap's whole usage block.
fn usage_reason(e: &clap::Error) -> String {
    match e.kind() {
        ClapErrorKind::MissingSubcommand => match e.get(ContextKind::ValidSubcommand) {
            Some(ContextValue::Strings(choices)) => format!("a subcommand is required: {}", choices.join(", ")),
            _ => "a subcommand is required".to_string(),
        },
        // clap cannot say which argument; paths may be any bytes, so it is one of the others.
        ClapErrorKind::InvalidUtf8 => "an argument is not valid UTF-8: ids, names and other values must be text".to_string(),
        _ => {
            let text = e.to_string();
            let reason: Vec<&str> = text
                .lines()
                .take_while(|l| !l.starts_with("Usage:"))
                .map(|l| l.trim().trim_start_matches("error: "))
                .filter(|l| !l.is_empty() && !l.starts_with("tip:") && !l.starts_with("For more information"))
                .collect();
            if reason.is_empty() { "invalid arguments".to_string() } else { reason.join(" ") }
        }
    }
}

async fn run(cli: Cli) -> CliResult<()> {
    let Cli { api_key, base_url, allow_insecure_http, json, command } = cli;
    if let Command::Emulator(args) = command {
        return emulator(args, json).await;
    }
    let cancel = CancellationToken::new();
    let caught = stop_on_signals(&cancel)?;
    let options = ClientOptions { api_key, base_url, allow_insecure_http, ..ClientOptions::default() };
    let result = dispatch(options, json, command, &cancel).await;
    // Whatever the cut-short work failed with, the signal is why: shells expect 128 + its number.
    match (result, caught.load(Ordering::SeqCst)) {
        (Err(_), number) if number != 0 => Err(Failure::signalled(number, signal_name(number))),
        (result, _) => result,
    }
}

async fn dispatch(options: ClientOptions, json: bool, command: Command, cancel: &CancellationToken) -> CliResult<()> {
    if let Command::Demo = command {
        return demo::demo(options, json, cancel).await;
    }
    let client = Client::new(options)?;
    let ctx = Ctx { client, json };
    match command {
        // Transfers stop through the core (which removes partial downloads) and wrap their
        // other calls themselves.
        Command::Upload(a) => transfer::upload(&ctx, a, cancel).await,
        Command::Download(a) => transfer::download(&ctx, a, cancel).await,
        Command::Ls(a) => interruptible(cancel, commands::ls(&ctx, a)).await,
        Command::Get { file_id } => interruptible(cancel, commands::get(&ctx, &file_id)).await,
        Command::Rename { file_id, name } => interruptible(cancel, commands::rename(&ctx, &file_id, &name)).await,
        Command::Mv(a) => interruptible(cancel, commands::mv(&ctx, a)).await,
        Command::Rm { file_id } => interruptible(cancel, commands::rm(&ctx, &file_id)).await,
        Command::Restore { file_id } => interruptible(cancel, commands::restore(&ctx, &file_id)).await,
        Command::Link(a) => interruptible(cancel, commands::link(&ctx, a)).await,
        Command::Shares(c) => interruptible(cancel, commands::shares(&ctx, c)).await,
        Command::Spaces(c) => interruptible(cancel, commands::spaces(&ctx, c)).await,
        Command::Folders(c) => interruptible(cancel, commands::folders(&ctx, c)).await,
        Command::Quota => interruptible(cancel, commands::quota(&ctx)).await,
        Command::Emulator(_) | Command::Demo => Ok(()), // handled above
    }
}

/// The signals that stop a command cleanly rather than kill it: the default action would
/// leave a partial download behind.
const STOP_SIGNALS: [(SignalKind, &str); 3] =
    [(SignalKind::interrupt(), "SIGINT"), (SignalKind::terminate(), "SIGTERM"), (SignalKind::hangup(), "SIGHUP")];

fn signal_name(number: i32) -> &'static str {
    STOP_SIGNALS.iter().find(|(kind, _)| kind.as_raw_value() == number).map_or("a signal", |(_, name)| *name)
}

/// A stop signal cancels `cancel`. Returns the number of the signal, 0 until one comes. The
/// handlers are in place when this returns, before any work starts.
fn stop_on_signals(cancel: &CancellationToken) -> CliResult<Arc<AtomicI32>> {
    let mut streams = Vec::with_capacity(STOP_SIGNALS.len());
    for (kind, _) in STOP_SIGNALS {
        let stream = signal(kind).map_err(|e| Failure::other(format!("cannot handle signals: {e}")))?;
        streams.push(stream);
    }
    let caught = Arc::new(AtomicI32::new(0));
    let (first, cancel) = (caught.clone(), cancel.clone());
    tokio::spawn(async move {
        let (got, index, _) = select_all(streams.iter_mut().map(|s| Box::pin(s.recv()))).await;
        if got.is_some() {
            first.store(STOP_SIGNALS[index].0.as_raw_value(), Ordering::SeqCst);
            cancel.cancel();
        }
    });
    Ok(caught)
}

/// `work`, dropped when `cancel` fires: for calls that hold nothing to clean up.
pub(crate) async fn interruptible<T>(cancel: &CancellationToken, work: impl Future<Output = CliResult<T>>) -> CliResult<T> {
    tokio::select! {
        result = work => result,
        _ = cancel.cancelled() => Err(Failure::interrupted()),
    }
}

/// `fluidcloud emulator`: what `fluidcloud-emulator` does, from the same flags.
async fn emulator(args: fluidcloud_emulator::Args, json: bool) -> CliResult<()> {
    // Before the ready lines: whoever reads them may stop us at once.
    let (mut interrupt, mut terminate) = match (signal(SignalKind::interrupt()), signal(SignalKind::terminate())) {
        (Ok(i), Ok(t)) => (i, t),
        (Err(e), _) | (_, Err(e)) => return Err(Failure::other(format!("cannot handle signals: {e}"))),
    };
    let emulator = fluidcloud_emulator::Emulator::start(args.into_config())
        .await
        .map_err(|e| Failure::other(format!("cannot start the emulator: {e}")))?;
    // The emulator's own key is printed on purpose: it is a local test key, and whoever
    // started the emulator needs it to talk to it (as `fluidcloud-emulator` prints it).
    let ready = if json {
        serde_json::json!({ "base_url": emulator.url(), "api_key": emulator.api_key() }).to_string()
    } else {
        format!("FLUIDCLOUD_BASE_URL={}\nFLUIDCLOUD_API_KEY={}", emulator.url(), emulator.api_key())
    };
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{ready}");
    let _ = out.flush();
    drop(out);
    tokio::select! {
        _ = interrupt.recv() => {}
        _ = terminate.recv() => {}
    }
    emulator.shutdown().await;
    Ok(())
}

//! `fluidcloud`: the command line over the FluidCloud core. It parses, calls the core and
//! prints; the behaviour lives in the `fluidcloud` crate.

mod args;
mod commands;
mod demo;
mod output;
mod transfer;

use std::future::Future;
use std::io::Write;

use clap::Parser;
use fluidcloud::{CancellationToken, Client, ClientOptions};
use tokio::signal::unix::{signal, SignalKind};

use args::{Cli, Command};
use commands::Ctx;
use output::{CliResult, Failure};

fn main() {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if e.use_stderr() => {
            // One line: the reason, not clap's whole usage block.
            let text = e.to_string();
            let reason: Vec<&str> = text
                .lines()
                .take_while(|l| !l.starts_with("Usage:"))
                .map(|l| l.trim().trim_start_matches("error: "))
                .filter(|l| !l.is_empty() && !l.starts_with("tip:") && !l.starts_with("For more information"))
                .collect();
            let reason = if reason.is_empty() { "invalid arguments".to_string() } else { reason.join(" ") };
            let json = std::env::args().any(|a| a == "--json");
            Failure::usage(format!("{reason} (see --help)")).print(json);
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

async fn run(cli: Cli) -> CliResult<()> {
    let Cli { api_key, base_url, json, command } = cli;
    if let Command::Emulator(args) = command {
        return emulator(args, json).await;
    }
    // Ctrl-C cancels: transfers stop through the core (which removes partial downloads),
    // other calls are dropped.
    let cancel = CancellationToken::new();
    let on_interrupt = cancel.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            on_interrupt.cancel();
        }
    });
    if let Command::Demo = command {
        return demo::demo(api_key, base_url, json, &cancel).await;
    }
    let client = Client::new(ClientOptions { api_key, base_url, ..ClientOptions::default() })?;
    let ctx = Ctx { client, json };
    match command {
        Command::Upload(a) => transfer::upload(&ctx, a, &cancel).await,
        Command::Download(a) => transfer::download(&ctx, a, &cancel).await,
        Command::Ls(a) => interruptible(&cancel, commands::ls(&ctx, a)).await,
        Command::Get { file_id } => interruptible(&cancel, commands::get(&ctx, &file_id)).await,
        Command::Rename { file_id, name } => interruptible(&cancel, commands::rename(&ctx, &file_id, &name)).await,
        Command::Mv(a) => interruptible(&cancel, commands::mv(&ctx, a)).await,
        Command::Rm { file_id } => interruptible(&cancel, commands::rm(&ctx, &file_id)).await,
        Command::Restore { file_id } => interruptible(&cancel, commands::restore(&ctx, &file_id)).await,
        Command::Link(a) => interruptible(&cancel, commands::link(&ctx, a)).await,
        Command::Shares(c) => interruptible(&cancel, commands::shares(&ctx, c)).await,
        Command::Spaces(c) => interruptible(&cancel, commands::spaces(&ctx, c)).await,
        Command::Folders(c) => interruptible(&cancel, commands::folders(&ctx, c)).await,
        Command::Quota => interruptible(&cancel, commands::quota(&ctx)).await,
        Command::Emulator(_) | Command::Demo => Ok(()), // handled above
    }
}

async fn interruptible<T>(cancel: &CancellationToken, work: impl Future<Output = CliResult<T>>) -> CliResult<T> {
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

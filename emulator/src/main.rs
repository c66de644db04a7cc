use std::io::Write;

use clap::Parser;
use fluidcloud_emulator::{Args, Emulator};
use tokio::signal::unix::{signal, SignalKind};

// Request bodies stream through short-lived buffers of a few hundred KiB; mimalloc reuses
// them where the system allocator keeps handing fresh, zeroed pages back and forth.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() {
    let args = match Args::try_parse() {
        Ok(args) => args,
        Err(e) if e.use_stderr() => {
            // One line: the reason, not clap's whole usage block.
            let text = e.to_string();
            let reason = text.lines().next().unwrap_or("invalid arguments");
            eprintln!("{reason} (see --help)");
            std::process::exit(2);
        }
        Err(e) => {
            let _ = e.print();
            return;
        }
    };
    // Before the ready lines: whoever reads them may stop us at once.
    let (mut interrupt, mut terminate) = match (signal(SignalKind::interrupt()), signal(SignalKind::terminate())) {
        (Ok(i), Ok(t)) => (i, t),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("fluidcloud-emulator: cannot handle signals: {e}");
            std::process::exit(1);
        }
    };
    let emulator = match Emulator::start(args.into_config()).await {
        Ok(e) => e,
        Err(e) => {
            eprintln!("fluidcloud-emulator: {e}");
            std::process::exit(1);
        }
    };
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "FLUIDCLOUD_BASE_URL={}", emulator.url());
    let _ = writeln!(out, "FLUIDCLOUD_API_KEY={}", emulator.api_key());
    let _ = out.flush();
    drop(out);
    tokio::select! {
        _ = interrupt.recv() => {}
        _ = terminate.recv() => {}
    }
    emulator.shutdown().await;
}

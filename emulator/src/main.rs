use std::io::Write;

use clap::Parser;
use fluidcloud_emulator::{Args, Emulator};

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
    wait_for_stop_signal().await;
    emulator.shutdown().await;
}

async fn wait_for_stop_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

//! Printing: results on stdout (text or JSON), errors as one line on stderr, exit statuses.

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};

use fluidcloud::{Error, ErrorKind};
use indicatif::{HumanBytes, MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;
use serde_json::{json, Value};

/// A failed command: what to print and which exit status to end with.
#[derive(Debug)]
pub struct Failure {
    pub code: &'static str,
    pub exit: i32,
    pub message: String,
    pub status: Option<u16>,
    pub request_id: Option<String>,
    pub detail: Option<Value>,
}

pub type CliResult<T> = Result<T, Failure>;

/// The exit status of each error kind; `--help` and cli/README.md document this table.
pub fn exit_status(kind: ErrorKind) -> i32 {
    match kind {
        ErrorKind::Api => 1,
        ErrorKind::InvalidInput => 2,
        ErrorKind::Auth => 3,
        ErrorKind::Permission => 4,
        ErrorKind::NotFound => 5,
        ErrorKind::Conflict => 6,
        ErrorKind::QuotaExceeded => 7,
        ErrorKind::Connect | ErrorKind::Timeout => 8,
        ErrorKind::Integrity => 9,
        ErrorKind::Io => 10,
        ErrorKind::Cancelled => 130,
        // The kind is non-exhaustive: anything new is a generic failure until mapped.
        _ => 1,
    }
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure {
            code: e.kind().code(),
            exit: exit_status(e.kind()),
            // The core's Display is one line, names the call, the status and the request id,
            // and never holds the credential.
            message: e.to_string(),
            status: e.http_status(),
            request_id: e.request_id().map(str::to_string),
            detail: e.detail().map(|d| d.to_json()),
        }
    }
}

impl Failure {
    fn local(code: &'static str, exit: i32, message: impl Into<String>) -> Self {
        Failure { code, exit, message: message.into(), status: None, request_id: None, detail: None }
    }
    pub fn usage(message: impl Into<String>) -> Self {
        Failure::local("usage", 2, message)
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Failure::local("not_found", exit_status(ErrorKind::NotFound), message)
    }
    pub fn io(message: impl Into<String>) -> Self {
        Failure::local("io", exit_status(ErrorKind::Io), message)
    }
    pub fn integrity(message: impl Into<String>) -> Self {
        Failure::local("integrity", exit_status(ErrorKind::Integrity), message)
    }
    pub fn interrupted() -> Self {
        Failure::local("cancelled", exit_status(ErrorKind::Cancelled), "interrupted")
    }
    /// Stopped by signal `number`: the status a shell gives a command killed by it.
    pub fn signalled(number: i32, name: &str) -> Self {
        Failure::local("cancelled", 128 + number, format!("interrupted ({name})"))
    }
    pub fn other(message: impl Into<String>) -> Self {
        Failure::local("error", 1, message)
    }

    /// One line on stderr: plain, or a JSON object with `--json`.
    pub fn print(&self, json: bool) {
        let line = if json {
            json!({ "error": {
                "kind": self.code, "message": self.message, "status": self.status,
                "request_id": self.request_id, "detail": self.detail, "exit_status": self.exit,
            }})
            .to_string()
        } else {
            format!("fluidcloud: error: {}", one_line(&self.message))
        };
        let _ = writeln!(std::io::stderr().lock(), "{line}");
    }
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Set once stdout is a closed pipe.
static STDOUT_GONE: AtomicBool = AtomicBool::new(false);

/// Writes one line on stdout. Once its reader has gone (`fluidcloud upload … | head -1`) the
/// lines are dropped but the work goes on, so the exit status still tells how it went.
pub fn say(line: impl AsRef<str>) {
    if STDOUT_GONE.load(Ordering::Relaxed) {
        return;
    }
    let mut out = std::io::stdout().lock();
    if let Err(e) = writeln!(out, "{}", line.as_ref()).and_then(|_| out.flush()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            STDOUT_GONE.store(true, Ordering::Relaxed);
        }
    }
}

/// A note for the person at the terminal (never part of the result).
pub fn note(line: impl AsRef<str>) {
    let _ = writeln!(std::io::stderr().lock(), "{}", line.as_ref());
}

pub fn print_json<T: Serialize + ?Sized>(value: &T) -> CliResult<()> {
    let text = serde_json::to_string(value).map_err(|e| Failure::other(format!("cannot encode the result as JSON: {e}")))?;
    say(text);
    Ok(())
}

/// Prints `value` as JSON with `--json`, else runs `human`.
pub fn emit<T: Serialize + ?Sized>(json: bool, value: &T, human: impl FnOnce(&T)) -> CliResult<()> {
    if json {
        print_json(value)
    } else {
        human(value);
        Ok(())
    }
}

pub fn size(bytes: Option<u64>) -> String {
    bytes.map(|b| HumanBytes(b).to_string()).unwrap_or_else(|| "-".into())
}

pub fn opt(value: &Option<String>) -> &str {
    value.as_deref().unwrap_or("-")
}

/// `[#######-------]` for `used` of `limit`.
pub fn bar(used: i64, limit: i64, width: usize) -> String {
    let ratio = if limit > 0 { (used.max(0) as f64 / limit as f64).min(1.0) } else { 0.0 };
    let filled = if used > 0 { ((ratio * width as f64).round() as usize).max(1) } else { 0 };
    let filled = filled.min(width);
    format!("[{}{}]", "#".repeat(filled), "-".repeat(width - filled))
}

pub fn percent(used: i64, limit: i64) -> String {
    if limit > 0 {
        format!("{:.1}%", used.max(0) as f64 * 100.0 / limit as f64)
    } else {
        "-".into()
    }
}

/// Progress bars on stderr when it is a terminal and the output is not JSON; otherwise none.
#[derive(Clone)]
pub struct Bars {
    multi: Option<MultiProgress>,
}

impl Bars {
    pub fn new(json: bool) -> Self {
        let on = !json && std::io::stderr().is_terminal();
        Bars { multi: on.then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr())) }
    }

    /// A byte bar labelled `label`, or a hidden one.
    pub fn bytes(&self, label: &str, total: u64) -> ProgressBar {
        let Some(multi) = &self.multi else { return ProgressBar::hidden() };
        let bar = multi.add(ProgressBar::new(total));
        bar.set_style(byte_style("{msg:<30!} {bar:30.cyan/blue} {bytes:>11}/{total_bytes:<11} {bytes_per_sec:>12}"));
        bar.set_message(label.to_string());
        bar
    }

    /// The overall bar: it stays last while per-file bars come and go above it.
    pub fn overall(&self, total: u64, files: usize) -> ProgressBar {
        let Some(multi) = &self.multi else { return ProgressBar::hidden() };
        let bar = multi.add(ProgressBar::new(total));
        bar.set_style(byte_style("{msg:<30!} {bar:30.green/white} {bytes:>11}/{total_bytes:<11} {bytes_per_sec:>12} {elapsed}"));
        bar.set_message(format!("total: 0/{files} files"));
        bar
    }

    /// A per-file bar placed above `anchor`.
    pub fn file_above(&self, anchor: &ProgressBar, label: &str, total: u64) -> ProgressBar {
        let Some(multi) = &self.multi else { return ProgressBar::hidden() };
        let bar = multi.insert_before(anchor, ProgressBar::new(total));
        bar.set_style(byte_style("  {msg:<28!} {bar:30.cyan/blue} {bytes:>11}/{total_bytes:<11} {bytes_per_sec:>12}"));
        bar.set_message(label.to_string());
        bar
    }

    /// Removes every bar (before an error line).
    pub fn clear(&self) {
        if let Some(m) = &self.multi {
            let _ = m.clear();
        }
    }

    /// Prints a result line on stdout without tearing the bars.
    pub fn say(&self, line: impl AsRef<str>) {
        match &self.multi {
            Some(m) => m.suspend(|| say(line)),
            None => say(line),
        }
    }
}

fn byte_style(template: &str) -> ProgressStyle {
    // The templates are constants; a bad one falls back to the default style rather than fail.
    ProgressStyle::with_template(template)
        .map(|s| s.progress_chars("=> "))
        .unwrap_or_else(|_| ProgressStyle::default_bar())
}

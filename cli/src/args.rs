//! The command line: every command, flag and the exit-code table shown by `--help`.

use std::path::PathBuf;

use clap::{ArgGroup, Args, Parser, Subcommand};

pub const EXIT_CODES: &str = "\
Exit status:
   0  success
   1  the service refused the request otherwise (400, 422, 429, 5xx, a failed storage PUT)
   2  bad usage: unknown flag, invalid value, missing API key, ambiguous --space
   3  authentication failed (401): the API key is unknown, expired or revoked
   4  permission denied (403): the key lacks a scope
   5  not found (404): no such file, folder, space or share (or another tenant's)
   6  conflict (409): e.g. a folder name already taken, a file not yet scanned clean
   7  quota exceeded (402): storage or link quota
   8  network: the service could not be reached, or timed out
   9  integrity: downloaded or uploaded bytes did not match (size or SHA-256)
  10  local file error: a path could not be read or written
 129  interrupted by SIGHUP (the terminal closed)
 130  interrupted (Ctrl-C)
 143  interrupted by SIGTERM (e.g. timeout, kill)

A signal's status is 128 + its number, as shells expect; a partial download is removed.

Errors are one line on stderr, with the request id when the service sent one; with --json
that line is a JSON object {\"error\": {...}}.

Configuration: --api-key / --base-url, else FLUIDCLOUD_API_KEY / FLUIDCLOUD_BASE_URL.
Try it with no account: fluidcloud demo";

/// FluidCloud from the command line: upload files and folders, list, share, download.
#[derive(Debug, Parser)]
#[command(name = "fluidcloud", version, after_help = EXIT_CODES)]
pub struct Cli {
    /// The API key (default: $FLUIDCLOUD_API_KEY). Never printed.
    // Global, and the same id as the emulator's own `--api-key`, so `fluidcloud emulator
    // --api-key K` keeps meaning what it means for `fluidcloud-emulator` (clap does not
    // propagate a global into a subcommand that defines the same id).
    #[arg(long = "api-key", id = "api_key", value_name = "KEY", global = true, display_order = 900)]
    pub api_key: Option<String>,
    /// The API origin (default: $FLUIDCLOUD_BASE_URL, else the production service).
    #[arg(long, value_name = "URL", global = true, display_order = 901)]
    pub base_url: Option<String>,
    /// Allow a plain http:// base URL on another machine (an emulator in docker-compose,
    /// say): the API key then travels unencrypted.
    #[arg(long, global = true, display_order = 902)]
    pub allow_insecure_http: bool,
    /// Print machine-readable JSON on stdout (and errors as JSON on stderr).
    #[arg(long, global = true, display_order = 903)]
    pub json: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Upload files, or whole folders with --recursive.
    Upload(UploadArgs),
    /// List the folders and files of a folder (default: the space root).
    Ls(LsArgs),
    /// Show one file.
    Get { file_id: String },
    /// Rename a file.
    Rename { file_id: String, name: String },
    /// Move a file into a folder, or to the space root.
    Mv(MvArgs),
    /// Move a file to the trash.
    Rm { file_id: String },
    /// Restore a file from the trash.
    Restore { file_id: String },
    /// Download a file (verified against its size and SHA-256).
    Download(DownloadArgs),
    /// Make a link to a file: permanent public (default) or expiring.
    Link(LinkArgs),
    /// List or revoke links.
    #[command(subcommand)]
    Shares(SharesCommand),
    /// List or create spaces.
    #[command(subcommand)]
    Spaces(SpacesCommand),
    /// Manage folders.
    #[command(subcommand)]
    Folders(FoldersCommand),
    /// Show storage and link usage.
    Quota,
    /// Run the local FluidCloud emulator (the same flags as `fluidcloud-emulator`).
    Emulator(fluidcloud_emulator::Args),
    /// Show the whole flow: space, public upload, link check, quota. Without an API key it
    /// runs against an embedded emulator; with FLUIDCLOUD_API_KEY, against that service.
    Demo,
}

/// Where a command works: a space by name or id.
#[derive(Debug, Args, Clone, Default)]
pub struct SpaceArg {
    /// Space name or id (default: the only space).
    #[arg(long, value_name = "NAME|ID")]
    pub space: Option<String>,
}

#[derive(Debug, Args)]
pub struct UploadArgs {
    /// Files, or folders with --recursive.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    #[command(flatten)]
    pub space: SpaceArg,
    /// Upload into this folder (default: the space root).
    #[arg(long, value_name = "ID")]
    pub folder: Option<String>,
    /// Also make each file's permanent public link, and print it.
    #[arg(long)]
    pub public: bool,
    /// Store a single file under this name.
    #[arg(long, value_name = "N")]
    pub name: Option<String>,
    /// Content type of every file (default: guessed from each name).
    #[arg(long, value_name = "T")]
    pub content_type: Option<String>,
    /// Upload folders with everything below them; the folder tree is recreated (a folder
    /// that already exists under the same parent is reused).
    #[arg(short, long)]
    pub recursive: bool,
    /// Files uploaded at once.
    #[arg(long, value_name = "N", default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub concurrency: u32,
}

#[derive(Debug, Args)]
pub struct LsArgs {
    #[command(flatten)]
    pub space: SpaceArg,
    /// List this folder (default: the space root).
    #[arg(long, value_name = "ID")]
    pub folder: Option<String>,
    /// List only trashed items.
    #[arg(long)]
    pub trash: bool,
}

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("to").required(true).args(["folder", "root"])))]
pub struct MvArgs {
    pub file_id: String,
    /// The destination folder.
    #[arg(long, value_name = "ID")]
    pub folder: Option<String>,
    /// Move to the space root.
    #[arg(long)]
    pub root: bool,
}

#[derive(Debug, Args)]
pub struct DownloadArgs {
    pub file_id: String,
    /// A file path or an existing folder (default: the file's name in the current folder).
    pub dest: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct LinkArgs {
    pub file_id: String,
    /// A permanent public link (the default): inline, cacheable, stable URL.
    #[arg(long, conflicts_with = "expires")]
    pub public: bool,
    /// An expiring link, valid this many days (1-365).
    #[arg(long, value_name = "DAYS", value_parser = clap::value_parser!(u32).range(1..=365))]
    pub expires: Option<u32>,
    /// Served as an attachment rather than inline (expiring links only).
    #[arg(long, requires = "expires", conflicts_with = "public")]
    pub download: bool,
}

#[derive(Debug, Subcommand)]
pub enum SharesCommand {
    /// List active links (of one file with --file).
    Ls {
        #[arg(long, value_name = "ID")]
        file: Option<String>,
        /// Include revoked and expired links.
        #[arg(long)]
        all: bool,
    },
    /// Revoke a link.
    Revoke { share_id: String },
}

#[derive(Debug, Subcommand)]
pub enum SpacesCommand {
    /// List spaces.
    Ls,
    /// Create a space.
    Create { name: String },
}

#[derive(Debug, Subcommand)]
pub enum FoldersCommand {
    /// List the folders under a folder (default: the space root).
    Ls {
        #[command(flatten)]
        space: SpaceArg,
        #[arg(long, value_name = "ID")]
        parent: Option<String>,
        /// List only trashed folders.
        #[arg(long)]
        trash: bool,
    },
    /// Create a folder.
    Create {
        name: String,
        #[command(flatten)]
        space: SpaceArg,
        #[arg(long, value_name = "ID")]
        parent: Option<String>,
    },
    /// Rename a folder.
    Rename { folder_id: String, name: String },
    /// Move a folder under another one, or to the space root.
    #[command(group(ArgGroup::new("to").required(true).args(["parent", "root"])))]
    Mv {
        folder_id: String,
        #[arg(long, value_name = "ID")]
        parent: Option<String>,
        #[arg(long)]
        root: bool,
    },
    /// Move a folder and everything below it to the trash.
    Rm { folder_id: String },
    /// Restore a folder from the trash.
    Restore { folder_id: String },
}

//! The API commands: each parses nothing more, calls the core, and prints.

use fluidcloud::{Client, ErrorKind, File, Folder, Permission, Space};
use serde::Serialize;

use crate::args::{FoldersCommand, LinkArgs, LsArgs, MvArgs, SharesCommand, SpaceArg, SpacesCommand};
use crate::output::{bar, emit, opt, percent, say, size, CliResult, Failure};

pub struct Ctx {
    pub client: Client,
    pub json: bool,
}

/// `--space NAME|ID`: an id, else a unique name; without it, the only space.
pub async fn resolve_space(client: &Client, wanted: &SpaceArg) -> CliResult<Space> {
    client.spaces().find(wanted.space.as_deref()).await.map_err(|e| match e.kind() {
        ErrorKind::InvalidInput => Failure::usage(format!("{}; pass --space NAME|ID", e.message())),
        ErrorKind::NotFound if e.http_status().is_none() => Failure::not_found(e.message()),
        _ => e.into(),
    })
}

fn file_line(f: &File) -> String {
    format!("file    {}  {:>11}  {}", f.id, size(f.size), f.original_name)
}

fn folder_line(f: &Folder) -> String {
    format!("folder  {}  {:>11}  {}/", f.id, "-", f.name)
}

fn show_file(f: &File) {
    let rows: [(&str, String); 13] = [
        ("id", f.id.clone()),
        ("name", f.original_name.clone()),
        ("size", f.size.map(|s| format!("{} ({s} bytes)", size(Some(s)))).unwrap_or_else(|| "-".into())),
        ("type", opt(&f.mime).to_string()),
        ("sha256", opt(&f.sha256).to_string()),
        ("status", opt(&f.status).to_string()),
        ("scan", opt(&f.scan_status).to_string()),
        ("space", opt(&f.space_id).to_string()),
        ("folder", f.folder_id.clone().unwrap_or_else(|| "(root)".into())),
        ("app", opt(&f.source_app).to_string()),
        ("created", opt(&f.created_at).to_string()),
        ("updated", opt(&f.updated_at).to_string()),
        ("trashed", opt(&f.deleted_at).to_string()),
    ];
    for (k, v) in rows {
        say(format!("{k:<8} {v}"));
    }
}

#[derive(Serialize)]
struct Listing<'a> {
    space: &'a Space,
    folder_id: Option<&'a str>,
    trash: bool,
    folders: Vec<Folder>,
    files: Vec<File>,
}

pub async fn ls(ctx: &Ctx, args: LsArgs) -> CliResult<()> {
    let space = resolve_space(&ctx.client, &args.space).await?;
    let folder = args.folder.as_deref();
    let folders = ctx.client.folders().list(&space.id, folder, args.trash).await?;
    let files = ctx.client.files().list(&space.id, folder, args.trash, None).await?;
    let listing = Listing { space: &space, folder_id: folder, trash: args.trash, folders, files };
    emit(ctx.json, &listing, |l| {
        for f in &l.folders {
            say(folder_line(f));
        }
        for f in &l.files {
            say(file_line(f));
        }
    })
}

pub async fn get(ctx: &Ctx, id: &str) -> CliResult<()> {
    let file = ctx.client.files().get(id).await?;
    emit(ctx.json, &file, show_file)
}

fn done(verb: &str) -> impl FnOnce(&File) + '_ {
    move |f: &File| say(format!("{verb} {}  {}", f.id, f.original_name))
}

pub async fn rename(ctx: &Ctx, id: &str, name: &str) -> CliResult<()> {
    let file = ctx.client.files().rename(id, name).await?;
    emit(ctx.json, &file, done("renamed"))
}

pub async fn mv(ctx: &Ctx, args: MvArgs) -> CliResult<()> {
    let to = if args.root { None } else { args.folder.as_deref() };
    let file = ctx.client.files().move_to(&args.file_id, to).await?;
    emit(ctx.json, &file, done("moved"))
}

pub async fn rm(ctx: &Ctx, id: &str) -> CliResult<()> {
    let file = ctx.client.files().delete(id).await?;
    emit(ctx.json, &file, done("trashed"))
}

pub async fn restore(ctx: &Ctx, id: &str) -> CliResult<()> {
    let file = ctx.client.files().restore(id).await?;
    emit(ctx.json, &file, done("restored"))
}

pub async fn link(ctx: &Ctx, args: LinkArgs) -> CliResult<()> {
    let files = ctx.client.files();
    let link = match args.expires {
        Some(days) => {
            let permission = if args.download { Permission::Download } else { Permission::View };
            files.signed_url(&args.file_id, days, permission).await?
        }
        None => files.public_url(&args.file_id).await?,
    };
    // The bare URL, so `$(fluidcloud link ID)` works; details are in --json.
    emit(ctx.json, &link, |l| say(&l.url))
}

pub async fn shares(ctx: &Ctx, cmd: SharesCommand) -> CliResult<()> {
    match cmd {
        SharesCommand::Ls { file, all } => {
            let shares = ctx.client.shares().list(file.as_deref(), all).await?;
            emit(ctx.json, &shares, |list| {
                for s in list {
                    let expires = s.expires_at.clone().unwrap_or_else(|| "permanent".into());
                    let state = if s.revoked { "  revoked" } else { "" };
                    say(format!("{}  file {}  {:<8}  {:<27}  {} downloads{state}", s.id, s.file_id, s.permission, expires, s.download_count));
                }
            })
        }
        SharesCommand::Revoke { share_id } => {
            ctx.client.shares().revoke(&share_id).await?;
            #[derive(Serialize)]
            struct Revoked<'a> {
                revoked: &'a str,
            }
            emit(ctx.json, &Revoked { revoked: &share_id }, |r| say(format!("revoked {}", r.revoked)))
        }
    }
}

fn space_line(s: &Space) -> String {
    format!("{}  {}", s.id, s.name)
}

pub async fn spaces(ctx: &Ctx, cmd: SpacesCommand) -> CliResult<()> {
    match cmd {
        SpacesCommand::Ls => {
            let spaces = ctx.client.spaces().list().await?;
            emit(ctx.json, &spaces, |list| list.iter().for_each(|s| say(space_line(s))))
        }
        SpacesCommand::Create { name } => {
            let space = ctx.client.spaces().create(&name).await?;
            emit(ctx.json, &space, |s| say(format!("created {}", space_line(s))))
        }
    }
}

pub async fn folders(ctx: &Ctx, cmd: FoldersCommand) -> CliResult<()> {
    let api = ctx.client.folders();
    let say_folder = |verb: &'static str| move |f: &Folder| say(format!("{verb} {}  {}", f.id, f.name));
    match cmd {
        FoldersCommand::Ls { space, parent, trash } => {
            let space = resolve_space(&ctx.client, &space).await?;
            let list = api.list(&space.id, parent.as_deref(), trash).await?;
            emit(ctx.json, &list, |l| l.iter().for_each(|f| say(format!("{}  {}/", f.id, f.name))))
        }
        FoldersCommand::Create { name, space, parent } => {
            let space = resolve_space(&ctx.client, &space).await?;
            let folder = api.create(&name, &space.id, parent.as_deref()).await?;
            emit(ctx.json, &folder, say_folder("created"))
        }
        FoldersCommand::Rename { folder_id, name } => emit(ctx.json, &api.rename(&folder_id, &name).await?, say_folder("renamed")),
        FoldersCommand::Mv { folder_id, parent, root } => {
            let to = if root { None } else { parent.as_deref() };
            emit(ctx.json, &api.move_to(&folder_id, to).await?, say_folder("moved"))
        }
        FoldersCommand::Rm { folder_id } => emit(ctx.json, &api.delete(&folder_id).await?, say_folder("trashed")),
        FoldersCommand::Restore { folder_id } => emit(ctx.json, &api.restore(&folder_id).await?, say_folder("restored")),
    }
}

pub fn print_quota(q: &fluidcloud::Quota, indent: &str) {
    let bytes = |n: i64| size(Some(n.max(0) as u64));
    say(format!(
        "{indent}storage  {:>11} of {:<11} {} {:>6}",
        bytes(q.bytes_used),
        bytes(q.bytes_limit),
        bar(q.bytes_used, q.bytes_limit, 30),
        percent(q.bytes_used, q.bytes_limit)
    ));
    say(format!(
        "{indent}links    {:>11} of {:<11} {} {:>6}",
        q.links_used,
        q.links_limit,
        bar(q.links_used, q.links_limit, 30),
        percent(q.links_used, q.links_limit)
    ));
    for app in q.by_app.iter().flatten() {
        let name = app.app.as_deref().unwrap_or("(no app)");
        let files = if app.files == 1 { "file" } else { "files" };
        say(format!("{indent}  {name:<20} {:>11}  {} {files}", bytes(app.bytes_used), app.files));
    }
}

pub async fn quota(ctx: &Ctx) -> CliResult<()> {
    let q = ctx.client.quota().usage().await?;
    emit(ctx.json, &q, |q| print_quota(q, ""))
}

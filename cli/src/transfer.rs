//! `upload` and `download`: the core moves and verifies the bytes and mirrors local folders;
//! this file runs several files at once and draws progress.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use fluidcloud::{CancellationToken, DownloadOptions, File, Folder, Space, UploadOptions, UploadSource};
use futures_util::stream::{self, StreamExt};
use indicatif::{HumanBytes, ProgressBar};
use serde::Serialize;

use crate::args::{DownloadArgs, UploadArgs};
use crate::commands::{resolve_space, Ctx};
use crate::interruptible;
use crate::output::{note, print_json, size, Bars, CliResult, Failure};

/// A result paired with the local path it came from or went to.
#[derive(Serialize)]
pub struct WithPath<T> {
    pub path: String,
    #[serde(flatten)]
    pub item: T,
}

struct Job {
    path: PathBuf,
    folder_id: Option<String>,
    size: u64,
}

#[derive(Default)]
struct Plan {
    jobs: Vec<Job>,
    folders: Vec<WithPath<Folder>>,
}

#[derive(Serialize)]
struct Uploaded<'a> {
    space: &'a Space,
    files: Vec<WithPath<File>>,
    folders: Vec<WithPath<Folder>>,
}

pub async fn upload(ctx: &Ctx, args: UploadArgs, cancel: &CancellationToken) -> CliResult<()> {
    if args.name.is_some() && args.paths.len() > 1 {
        return Err(Failure::usage("--name names one file; several paths were given"));
    }
    // Local checks first: a missing path is reported as such, not as whatever a first round
    // trip to the service fails with.
    let mut local = Vec::with_capacity(args.paths.len());
    for path in &args.paths {
        let meta = std::fs::metadata(path).map_err(|e| Failure::io(format!("cannot read {}: {e}", path.display())))?;
        if meta.is_dir() {
            if !args.recursive {
                return Err(Failure::usage(format!("{} is a folder; pass --recursive to upload it and everything below it", path.display())));
            }
            if args.name.is_some() {
                return Err(Failure::usage("--name names one file, not a folder"));
            }
        } else if !meta.is_file() {
            return Err(Failure::usage(format!("{} is not a regular file", path.display())));
        }
        local.push((path, meta));
    }
    let client = &ctx.client;
    let space = interruptible(cancel, resolve_space(client, &args.space)).await?;
    let mut plan = Plan::default();
    for (path, meta) in local {
        if meta.is_dir() {
            let mirror = async { client.folders().mirror(path, &space.id, args.folder.as_deref()).await.map_err(Failure::from) };
            let tree = interruptible(cancel, mirror).await?;
            for (path, why) in tree.skipped {
                note(format!("skipping {}: {why}", path.display()));
            }
            plan.folders.extend(tree.folders.into_iter().map(|(path, folder)| WithPath { path: path.display().to_string(), item: folder }));
            plan.jobs.extend(tree.files.into_iter().map(|f| Job { path: f.path, folder_id: Some(f.folder_id), size: f.size }));
        } else {
            plan.jobs.push(Job { path: path.clone(), folder_id: args.folder.clone(), size: meta.len() });
        }
    }

    let count = plan.jobs.len();
    let total: u64 = plan.jobs.iter().map(|j| j.size).sum();
    let bars = Bars::new(ctx.json);
    let overall = bars.overall(total, count);
    let finished = AtomicUsize::new(0);
    let mut running = stream::iter(plan.jobs.into_iter().enumerate())
        .map(|(index, job)| {
            let bars = &bars;
            let overall = overall.clone();
            let space_id = space.id.clone();
            let args = &args;
            async move {
                let label = job.path.display().to_string();
                let bar = bars.file_above(&overall, &label, job.size);
                let mut options = UploadOptions::new(space_id);
                options.folder_id = job.folder_id.clone();
                options.name = args.name.clone();
                options.content_type = args.content_type.clone();
                options.public = args.public;
                options.cancel = Some(cancel.clone());
                options.progress = Some(progress_into(bar.clone(), Some(overall)));
                let result = client.files().upload(UploadSource::path(&job.path), options).await;
                bar.finish_and_clear();
                result.map(|file| (index, label, file))
            }
        })
        .buffer_unordered(args.concurrency as usize);

    let mut files = Vec::with_capacity(count);
    while let Some(result) = running.next().await {
        match result {
            Ok((index, path, file)) => {
                let n = finished.fetch_add(1, Ordering::Relaxed) + 1;
                overall.set_message(format!("total: {n}/{count} files"));
                if !ctx.json {
                    let url = file.public_url.as_deref().map(|u| format!("  {u}")).unwrap_or_default();
                    bars.say(format!("{}  {path}{url}", file.id));
                }
                files.push((index, WithPath { path, item: file }));
            }
            Err(e) => {
                // Dropping the stream cancels the uploads still running.
                drop(running);
                bars.clear();
                return Err(e.into());
            }
        }
    }
    overall.finish_and_clear();
    files.sort_by_key(|(i, _)| *i);
    let files: Vec<WithPath<File>> = files.into_iter().map(|(_, f)| f).collect();
    if ctx.json {
        print_json(&Uploaded { space: &space, files, folders: plan.folders })
    } else {
        let folders = if plan.folders.is_empty() { String::new() } else { format!(", {} folders", plan.folders.len()) };
        note(format!("uploaded {count} files ({}){folders} to space {}", HumanBytes(total), space.name));
        Ok(())
    }
}

/// A core progress callback that moves `bar` (and the overall bar by the same bytes).
fn progress_into(bar: ProgressBar, overall: Option<ProgressBar>) -> fluidcloud::Progress {
    let last = AtomicU64::new(0);
    Arc::new(move |done: u64, total: u64| {
        if bar.length() != Some(total) {
            bar.set_length(total);
        }
        bar.set_position(done);
        let before = last.fetch_max(done, Ordering::Relaxed);
        if let (Some(o), true) = (&overall, done > before) {
            o.inc(done - before);
        }
    })
}

/// Where a download goes: DEST, DEST/NAME when DEST is a folder, else ./NAME.
fn destination(dest: Option<PathBuf>, file: &File) -> CliResult<PathBuf> {
    // The name comes from the server: keep only its last component, so it cannot point
    // outside the chosen folder.
    let name = Path::new(&file.original_name)
        .file_name()
        .map(|n| n.to_os_string())
        .filter(|n| n != "." && n != "..")
        .unwrap_or_else(|| file.id.clone().into());
    match dest {
        None => Ok(PathBuf::from(name)),
        Some(d) if d.is_dir() => Ok(d.join(name)),
        // `dir/` names a folder: one that does not exist is a mistake, not a file name.
        Some(d) if d.as_os_str().as_encoded_bytes().ends_with(b"/") => {
            Err(Failure::io(format!("{} is not an existing folder", d.display())))
        }
        Some(d) => Ok(d),
    }
}

pub async fn download(ctx: &Ctx, args: DownloadArgs, cancel: &CancellationToken) -> CliResult<()> {
    let files = ctx.client.files();
    let meta = interruptible(cancel, async { files.get(&args.file_id).await.map_err(Failure::from) }).await?;
    let dest = destination(args.dest, &meta)?;
    let bars = Bars::new(ctx.json);
    let bar = bars.bytes(&meta.original_name, meta.size.unwrap_or(0));
    let options = DownloadOptions { progress: Some(progress_into(bar.clone(), None)), cancel: Some(cancel.clone()) };
    let result = files.download(&args.file_id, &dest, options).await;
    bar.finish_and_clear();
    let file = result?;
    let path = dest.display().to_string();
    if ctx.json {
        print_json(&WithPath { path, item: file })
    } else {
        bars.say(format!("downloaded {} ({}) to {path}", file.id, size(file.size)));
        Ok(())
    }
}

//! FluidCloud from Rust: create a space, upload a file with a permanent public link, print the
//! link. The key and origin come from FLUIDCLOUD_API_KEY / FLUIDCLOUD_BASE_URL.
//!
//!   cargo run -p fluidcloud --example quickstart -- [FILE]   (without FILE, uploads hello.txt)

use std::process::ExitCode;

use fluidcloud::{Client, ClientOptions, UploadOptions, UploadSource};

#[tokio::main]
async fn main() -> ExitCode {
    match run(std::env::args_os().nth(1)).await {
        Ok(url) => {
            println!("{url}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            // One line naming the call; the kind, status and request id are there to branch on.
            eprintln!("{e} (kind {:?}, status {:?}, request id {:?})", e.kind(), e.http_status(), e.request_id());
            ExitCode::FAILURE
        }
    }
}

async fn run(path: Option<std::ffi::OsString>) -> fluidcloud::Result<String> {
    let client = Client::new(ClientOptions::new())?;
    let space = client.spaces().create("Brand Assets").await?;
    let mut options = UploadOptions::new(&space.id);
    options.public = true;
    let source = match path {
        Some(path) => UploadSource::path(path),
        None => {
            options.name = Some("hello.txt".into());
            UploadSource::bytes(&b"Hello from FluidCloud!\n"[..])
        }
    };
    let file = client.files().upload(source, options).await?;
    Ok(file.public_url.unwrap_or_default())
}

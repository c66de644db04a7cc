//! `fluidcloud demo`: the whole flow in one command, against an embedded emulator when no API
//! key is configured, else against the configured service.

use std::sync::Arc;
use std::time::Duration;

use fluidcloud::transport::{HeaderMap, HttpRequest, Method, Proxy, ReqwestTransport, RequestBody, Transport, Url};
use fluidcloud::{CancellationToken, Client, ClientOptions, File, Quota, Space, UploadOptions, UploadSource, ENV_API_KEY};
use fluidcloud_emulator::{Config, Emulator};
use serde::Serialize;

use crate::commands::print_quota;
use crate::interruptible;
use crate::output::{print_json, say, size, Bars, CliResult, Failure};

const SPACE: &str = "FluidCloud demo";
const NAME: &str = "fluidcloud-demo.png";

#[derive(Serialize)]
struct Report {
    base_url: String,
    embedded_emulator: bool,
    space: Space,
    space_created: bool,
    file: File,
    public_url: String,
    fetched_bytes: u64,
    verified: bool,
    quota: Quota,
}

/// `options` are the command line's (key, base URL, `--allow-insecure-http`).
pub async fn demo(options: ClientOptions, json: bool, cancel: &CancellationToken) -> CliResult<()> {
    let configured = options.api_key.is_some() || std::env::var(ENV_API_KEY).map(|k| !k.trim().is_empty()).unwrap_or(false);
    if configured {
        let client = Client::new(options)?;
        return run(&client, false, Proxy::System, json, cancel).await;
    }
    if options.base_url.is_some() || std::env::var(fluidcloud::ENV_BASE_URL).map(|u| !u.trim().is_empty()).unwrap_or(false) {
        crate::output::note("no API key configured: the demo ignores the base URL and runs an embedded emulator");
    }
    // Small parts, so that even the sample image goes up as a multipart upload, parts in
    // parallel, as a large file would against the real service.
    let config = Config { multipart_threshold: 256 * 1024, part_size: 128 * 1024, ..Config::default() };
    let emulator = Emulator::start(config).await.map_err(|e| Failure::other(format!("cannot start the embedded emulator: {e}")))?;
    // Loopback only: an HTTP proxy from the environment must not be asked for it.
    let options = ClientOptions::new().api_key(emulator.api_key()).base_url(emulator.url()).proxy(Proxy::None);
    let result = match Client::new(options) {
        Ok(client) => run(&client, true, Proxy::None, json, cancel).await,
        Err(e) => Err(e.into()),
    };
    emulator.shutdown().await;
    result
}

async fn run(client: &Client, embedded: bool, proxy: Proxy, json: bool, cancel: &CancellationToken) -> CliResult<()> {
    let text = !json;
    if text {
        let where_ = if embedded {
            format!("an embedded emulator at {} (no account needed; it stops when the demo ends)", client.base_url())
        } else {
            client.base_url().to_string()
        };
        say(format!("FluidCloud demo against {where_}"));
    }

    // The upload stops through the core on Ctrl-C; the other calls are dropped.
    let find = async { client.spaces().list().await.map_err(Failure::from) };
    let existing = interruptible(cancel, find).await?.into_iter().find(|s| s.name == SPACE);
    let space_created = existing.is_none();
    let space = match existing {
        Some(s) => s,
        None => interruptible(cancel, async { client.spaces().create(SPACE).await.map_err(Failure::from) }).await?,
    };
    if text {
        let how = if space_created { "created" } else { "reusing" };
        say(format!("1. space     {how} \"{}\" ({})", space.name, space.id));
    }

    let image = sample_png(512, 384);
    let bars = Bars::new(json);
    let bar = bars.bytes(NAME, image.len() as u64);
    let mut options = UploadOptions::new(&space.id);
    options.name = Some(NAME.into());
    options.public = true;
    options.cancel = Some(cancel.clone());
    let b = bar.clone();
    options.progress = Some(Arc::new(move |done, total| {
        b.set_length(total);
        b.set_position(done);
    }));
    let uploaded = client.files().upload(UploadSource::bytes(image.clone()), options).await;
    bar.finish_and_clear();
    let file = uploaded?;
    let public_url = file.public_url.clone().ok_or_else(|| Failure::other("the upload returned no public URL"))?;
    if text {
        say(format!("2. uploaded  {NAME} ({}) publicly as file {}", size(file.size), file.id));
        say(format!("             public URL: {public_url}"));
    }

    let fetched = interruptible(cancel, fetch(&public_url, proxy)).await?;
    if fetched != image {
        return Err(Failure::integrity(format!(
            "the public URL served {} bytes that differ from the {} uploaded",
            fetched.len(),
            image.len()
        )));
    }
    if text {
        let sha = file.sha256.as_deref().map(|s| format!(", sha256 {}…", s.chars().take(16).collect::<String>())).unwrap_or_default();
        say(format!("3. fetched   the public URL with no credential: {} bytes, identical to the upload{sha}", fetched.len()));
    }

    let quota = interruptible(cancel, async { client.quota().usage().await.map_err(Failure::from) }).await?;
    if json {
        return print_json(&Report {
            base_url: client.base_url().to_string(),
            embedded_emulator: embedded,
            space,
            space_created,
            file,
            public_url,
            fetched_bytes: fetched.len() as u64,
            verified: true,
            quota,
        });
    }
    say("4. quota");
    print_quota(&quota, "   ");
    say(format!("Done: open {public_url} in a browser."));
    if embedded {
        say("That link died with the embedded emulator. To keep one running: `fluidcloud emulator`, then set");
        say("the FLUIDCLOUD_BASE_URL and FLUIDCLOUD_API_KEY it prints and run `fluidcloud demo` again.");
    }
    Ok(())
}

/// GETs a link as anyone would: no credential.
async fn fetch(url: &str, proxy: Proxy) -> CliResult<Vec<u8>> {
    let network = |message: String| Failure { code: "connect", exit: 8, message, status: None, request_id: None, detail: None };
    let transport = ReqwestTransport::new(Duration::from_secs(60), Duration::from_secs(10), &proxy)
        .map_err(|e| network(format!("cannot fetch {url}: {e}")))?;
    let parsed = Url::parse(url).map_err(|e| Failure::other(format!("the server sent an invalid link {url}: {e}")))?;
    let request = HttpRequest { method: Method::GET, url: parsed, headers: HeaderMap::new(), body: RequestBody::Empty };
    let response = transport.send(request).await.map_err(|e| network(format!("cannot fetch {url}: {e}")))?;
    if response.status != 200 {
        return Err(Failure::other(format!("fetching {url} answered HTTP {}", response.status)));
    }
    let body = response.bytes(64 << 20).await.map_err(|e| network(format!("fetching {url} broke off: {e}")))?;
    Ok(body.to_vec())
}

/// A `width`×`height` RGB PNG (waves over a gradient), stored without compression: made here
/// so the demo needs no file of its own.
pub fn sample_png(width: u32, height: u32) -> Vec<u8> {
    let mut raw = Vec::with_capacity(((width * 3 + 1) * height) as usize);
    for y in 0..height {
        raw.push(0); // filter: none
        for x in 0..width {
            let (fx, fy) = (x as f32 / width as f32, y as f32 / height as f32);
            let wave = ((fx * 12.0 + fy * 3.0).sin() * 0.5 + 0.5) * (1.0 - fy);
            raw.push((20.0 + 60.0 * wave) as u8);
            raw.push((90.0 + 120.0 * fx * (1.0 - fy) + 40.0 * wave) as u8);
            raw.push((160.0 + 90.0 * (1.0 - fy) * wave + 5.0 * fx) as u8);
        }
    }
    let mut zlib = vec![0x78, 0x01];
    let blocks: Vec<&[u8]> = raw.chunks(65_535).collect();
    for (i, block) in blocks.iter().enumerate() {
        zlib.push(u8::from(i + 1 == blocks.len()));
        let len = block.len() as u16;
        zlib.extend_from_slice(&len.to_le_bytes());
        zlib.extend_from_slice(&(!len).to_le_bytes());
        zlib.extend_from_slice(block);
    }
    zlib.extend_from_slice(&adler32(&raw).to_be_bytes());

    let mut ihdr = Vec::with_capacity(13);
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]); // 8-bit RGB, deflate, no filter, no interlace
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    for (kind, data) in [(b"IHDR", ihdr.as_slice()), (b"IDAT", zlib.as_slice()), (b"IEND", &[][..])] {
        png.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let start = png.len();
        png.extend_from_slice(kind);
        png.extend_from_slice(data);
        let crc = crc32(&png[start..]);
        png.extend_from_slice(&crc.to_be_bytes());
    }
    png
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in data {
        crc ^= byte as u32;
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

fn adler32(data: &[u8]) -> u32 {
    let (mut a, mut b) = (1u32, 0u32);
    for &byte in data {
        a = (a + byte as u32) % 65_521;
        b = (b + a) % 65_521;
    }
    (b << 16) | a
}

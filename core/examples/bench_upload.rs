//! Benchmark helper for `bench/upload.sh` (not a test).
//!   bench_upload upload BASE_URL API_KEY PATH   uploads PATH with the SDK, prints seconds
//!   bench_upload sha256 PATH                    hashes PATH (the SDK's SHA-256), prints seconds

use std::time::Instant;

use fluidcloud::{Client, ClientOptions, UploadOptions, UploadSource};

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let started = Instant::now();
    match args.get(1).map(String::as_str) {
        Some("upload") if args.len() == 5 => {
            let options = ClientOptions::new().api_key(&args[3]).base_url(&args[2]);
            let client = Client::new(options).unwrap_or_else(|e| fail(&e.to_string()));
            let space = client.spaces().list().await.unwrap_or_else(|e| fail(&e.to_string()))[0].id.clone();
            let file = client
                .files()
                .upload(UploadSource::path(&args[4]), UploadOptions::new(space))
                .await
                .unwrap_or_else(|e| fail(&e.to_string()));
            let seconds = started.elapsed().as_secs_f64();
            println!("{seconds:.3} {}", file.sha256.unwrap_or_default());
        }
        Some("sha256") if args.len() == 3 => {
            use sha2::Digest;
            use std::io::Read;
            let mut file = std::fs::File::open(&args[2]).unwrap_or_else(|e| fail(&e.to_string()));
            let mut sha = sha2::Sha256::new();
            let mut buf = vec![0u8; 1 << 20];
            loop {
                let n = file.read(&mut buf).unwrap_or_else(|e| fail(&e.to_string()));
                if n == 0 {
                    break;
                }
                sha.update(&buf[..n]);
            }
            println!("{:.3} {}", started.elapsed().as_secs_f64(), hex::encode(sha.finalize()));
        }
        _ => fail("usage: bench_upload upload BASE_URL API_KEY PATH | bench_upload sha256 PATH"),
    }
}

fn fail(message: &str) -> ! {
    eprintln!("bench_upload: {message}");
    std::process::exit(2)
}

//! Proxies from the environment (`HTTPS_PROXY`, `HTTP_PROXY`, `NO_PROXY`) are honoured by
//! default. Alone in its binary: it changes process-wide environment variables.

mod support;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::mpsc;

use fluidcloud::transport::Proxy;
use fluidcloud::{Client, ClientOptions, ErrorKind};

/// A proxy that records the first request line it gets and refuses it.
fn refusing_proxy() -> (String, mpsc::Receiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut first = String::new();
            let _ = reader.read_line(&mut first);
            let _ = tx.send(first.trim_end().to_string());
            let mut line = String::new();
            while reader.read_line(&mut line).map(|n| n > 2).unwrap_or(false) {
                line.clear();
            }
            let mut stream = stream;
            let _ = stream.write_all(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        }
    });
    (url, rx)
}

fn options(base_url: &str) -> ClientOptions {
    ClientOptions::new().api_key("fck_test_proxy").base_url(base_url).proxy(Proxy::System).max_retries(0)
}

#[tokio::test]
async fn environment_proxies_are_used_unless_no_proxy_says_otherwise() {
    let (proxy, seen) = refusing_proxy();
    for var in ["HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "all_proxy", "no_proxy"] {
        std::env::remove_var(var);
    }

    // https through HTTPS_PROXY: a CONNECT to the API host.
    std::env::set_var("HTTPS_PROXY", &proxy);
    let client = Client::new(options("https://api.example.test")).unwrap();
    let err = client.spaces().list().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Connect, "{err}");
    assert_eq!(seen.recv().unwrap(), "CONNECT api.example.test:443 HTTP/1.1");

    // Plain http (loopback) through HTTP_PROXY.
    let emu = support::start().await;
    std::env::set_var("HTTP_PROXY", &proxy);
    let client = Client::new(options(emu.url())).unwrap();
    let err = client.spaces().list().await.unwrap_err();
    assert_eq!(err.http_status(), Some(502), "{err}");
    assert_eq!(seen.recv().unwrap(), format!("GET {}/api/v1/spaces HTTP/1.1", emu.url()));

    // NO_PROXY exempts the host: straight to the emulator.
    std::env::set_var("NO_PROXY", "127.0.0.1");
    let client = Client::new(options(emu.url()).api_key(emu.api_key())).unwrap();
    assert_eq!(client.spaces().list().await.unwrap().len(), 1);

    // An explicit "no proxy" ignores the environment.
    std::env::remove_var("NO_PROXY");
    let client = Client::new(options(emu.url()).api_key(emu.api_key()).proxy(Proxy::None)).unwrap();
    assert_eq!(client.spaces().list().await.unwrap().len(), 1);
    assert!(seen.try_recv().is_err(), "the proxy saw nothing more");
    for var in ["HTTP_PROXY", "HTTPS_PROXY"] {
        std::env::remove_var(var);
    }
}

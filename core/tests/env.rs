//! `FLUIDCLOUD_API_KEY` / `FLUIDCLOUD_BASE_URL`. Environment variables are process-global, so
//! this file holds exactly one test, which sets and removes them in sequence.

mod support;

use fluidcloud::transport::Proxy;
use fluidcloud::{Client, ClientOptions, ErrorKind, ENV_API_KEY, ENV_BASE_URL};
use support::*;

fn clear_env() {
    std::env::remove_var(ENV_API_KEY);
    std::env::remove_var(ENV_BASE_URL);
}

#[tokio::test]
async fn api_key_and_base_url_from_the_environment() {
    assert_eq!(ENV_API_KEY, "FLUIDCLOUD_API_KEY");
    assert_eq!(ENV_BASE_URL, "FLUIDCLOUD_BASE_URL");
    let emu = start().await;
    clear_env();

    // no key anywhere
    let err = Client::new(ClientOptions::new()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert!(err.to_string().contains("FLUIDCLOUD_API_KEY"), "{err}");
    assert!(!err.to_string().contains('\n'));

    // a blank key in the environment counts as none; an empty option key is refused
    std::env::set_var(ENV_API_KEY, "   ");
    let err = Client::new(ClientOptions::new()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert!(err.to_string().contains("FLUIDCLOUD_API_KEY"), "{err}");
    let err = Client::new(ClientOptions::new().api_key("")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);

    // key and base URL from the environment reach the emulator
    std::env::set_var(ENV_API_KEY, emu.api_key());
    std::env::set_var(ENV_BASE_URL, emu.url());
    let client = Client::new(ClientOptions::new().proxy(Proxy::None)).expect("client from the environment");
    assert_eq!(client.base_url(), emu.url());
    assert!(!format!("{client:?}").contains(emu.api_key()));
    let spaces = client.spaces().list().await.expect("the env key works");
    assert_eq!(spaces[0].name, "Default");

    // a key set with surrounding whitespace (a .env file with CRLF endings, say) works
    std::env::set_var(ENV_API_KEY, format!(" {}\n", emu.api_key()));
    let (padded, rec) = emu.recorded_client_with(ClientOptions::new());
    padded.spaces().list().await.expect("the trimmed env key works");
    assert_eq!(rec.last().header("x-api-key"), Some(emu.api_key()));
    std::env::set_var(ENV_API_KEY, emu.api_key());

    // options win over the environment
    std::env::set_var(ENV_API_KEY, "fck_test_wrong_key_from_env");
    let (explicit, rec) = emu.recorded_client_with(ClientOptions::new().api_key(emu.api_key()));
    explicit.spaces().list().await.expect("the option key wins");
    assert_eq!(rec.last().header("x-api-key"), Some(emu.api_key()));
    assert!(rec.last().url.starts_with(emu.url()), "base URL from the environment");
    let wrong = Client::new(ClientOptions::new().proxy(Proxy::None)).unwrap();
    let err = wrong.spaces().list().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Auth);
    assert!(!err.to_string().contains("fck_test_wrong_key_from_env"));
    std::env::set_var(ENV_BASE_URL, "https://unused.example");
    let c = Client::new(ClientOptions::new().base_url(emu.url())).unwrap();
    assert_eq!(c.base_url(), emu.url());

    // a plain-http base URL from the environment is held to the same rule
    std::env::set_var(ENV_BASE_URL, "http://example.com");
    let err = Client::new(ClientOptions::new()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert!(err.to_string().contains("https"), "{err}");

    // no base URL: the production origin
    std::env::remove_var(ENV_BASE_URL);
    let c = Client::new(ClientOptions::new()).unwrap();
    assert_eq!(c.base_url(), "https://api-cloud.fluidvip.com");

    clear_env();
    emu.shutdown().await;
}

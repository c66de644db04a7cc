//! The command line, shared by `fluidcloud-emulator` and any front end that embeds it.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;

use crate::Config;

/// A local FluidCloud for tests, CI and demos: the HTTP API, presigned storage and share
/// links. Prints FLUIDCLOUD_BASE_URL=… and FLUIDCLOUD_API_KEY=… on stdout when ready.
#[derive(Debug, Parser)]
#[command(name = "fluidcloud-emulator", version)]
pub struct Args {
    /// Address to listen on, HOST:PORT (a host name takes its first IPv4 address); port 0
    /// picks a free one.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8787", value_parser = parse_listen)]
    pub listen: SocketAddr,
    /// Keep state in DIR across restarts (default: a temporary folder removed at exit).
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Uploads of at least this size go multipart (integer, or with KiB/MiB/GiB/TiB).
    #[arg(long, value_name = "BYTES", default_value = "104857600", value_parser = parse_size)]
    pub multipart_threshold: u64,
    /// Multipart part size; raised where needed to stay within 10,000 parts.
    #[arg(long, value_name = "BYTES", default_value = "16777216", value_parser = parse_nonzero_size)]
    pub part_size: u64,
    /// Storage quota of the default tenant.
    #[arg(long, value_name = "BYTES", default_value = "1TiB", value_parser = parse_size)]
    pub bytes_limit: u64,
    /// Active-link quota of the default tenant.
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    pub links_limit: u64,
    /// Milliseconds during which a completed file's scan stays pending (0: done at complete).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub scan_delay_ms: u64,
    /// HS256 secret that signs the user JWTs accepted by /auth/service-token.
    #[arg(long, value_name = "S", default_value = crate::DEFAULT_JWT_SECRET, hide_default_value = true)]
    pub jwt_secret: String,
    /// The default key's value (it has every scope) [default: fck_test_emulator].
    #[arg(long, value_name = "KEY", default_value = crate::DEFAULT_API_KEY, hide_default_value = true)]
    pub api_key: String,
    /// Milliseconds added before each storage PUT/GET is answered.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub storage_latency_ms: u64,
    /// Bandwidth cap per storage connection in bytes per second; 0 = none.
    #[arg(long, value_name = "N", default_value = "0", value_parser = parse_size)]
    pub storage_bytes_per_sec: u64,
    /// Seconds a storage PUT's body may send nothing before it is answered 400
    /// RequestTimeout and its connection closed; 0 = wait for ever.
    #[arg(long, value_name = "N", default_value_t = crate::DEFAULT_STORAGE_IDLE_TIMEOUT.as_secs())]
    pub storage_idle_timeout_secs: u64,
}

impl Args {
    pub fn into_config(self) -> Config {
        Config {
            listen: self.listen,
            data_dir: self.data_dir,
            multipart_threshold: self.multipart_threshold,
            part_size: self.part_size,
            bytes_limit: self.bytes_limit,
            links_limit: self.links_limit,
            scan_delay_ms: self.scan_delay_ms,
            jwt_secret: self.jwt_secret,
            api_key: self.api_key,
            storage_latency_ms: self.storage_latency_ms,
            storage_bytes_per_sec: self.storage_bytes_per_sec,
            storage_idle_timeout: (self.storage_idle_timeout_secs > 0).then(|| std::time::Duration::from_secs(self.storage_idle_timeout_secs)),
        }
    }
}

/// `1234`, `64KiB`, `16MiB`, `1GiB`, `2TiB` (also `KB`/`MB`/`GB`/`TB` as powers of 1000).
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    if digits.is_empty() {
        return Err(format!("'{text}' is not a size (examples: 1048576, 64KiB, 16MiB, 1GiB)"));
    }
    let number: u64 = digits.parse().map_err(|_| format!("'{text}' is too large"))?;
    let factor: u64 = match unit.trim() {
        "" | "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        "TiB" => 1 << 40,
        "KB" | "kB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        "TB" => 1_000_000_000_000,
        other => return Err(format!("unknown size unit '{other}' (use KiB, MiB, GiB or TiB)")),
    };
    number.checked_mul(factor).ok_or_else(|| format!("'{text}' is too large"))
}

fn parse_listen(text: &str) -> Result<SocketAddr, String> {
    if let Ok(addr) = text.parse() {
        return Ok(addr);
    }
    use std::net::ToSocketAddrs;
    let addrs: Vec<SocketAddr> = text
        .to_socket_addrs()
        .map_err(|e| format!("'{text}' is not HOST:PORT ({e})"))?
        .collect();
    addrs
        .iter()
        .find(|a| a.is_ipv4())
        .or(addrs.first())
        .copied()
        .ok_or_else(|| format!("'{text}' names no address"))
}

fn parse_nonzero_size(text: &str) -> Result<u64, String> {
    match parse_size(text)? {
        0 => Err("must be at least 1 byte".into()),
        n => Ok(n),
    }
}

#[cfg(test)]
mod tests {
    use super::{parse_listen, parse_size};

    #[test]
    fn listen_takes_addresses_and_host_names() {
        assert_eq!(parse_listen("127.0.0.1:0").map(|a| a.to_string()), Ok("127.0.0.1:0".to_string()));
        assert_eq!(parse_listen("[::1]:8787").map(|a| a.port()), Ok(8787));
        assert_eq!(parse_listen("localhost:9").map(|a| (a.ip().is_loopback(), a.port())), Ok((true, 9)));
        assert!(parse_listen("localhost").unwrap_err().contains("HOST:PORT"));
    }

    #[test]
    fn sizes_with_units() {
        assert_eq!(parse_size("1234"), Ok(1234));
        assert_eq!(parse_size("64KiB"), Ok(65536));
        assert_eq!(parse_size("16MiB"), Ok(16 << 20));
        assert_eq!(parse_size("1GiB"), Ok(1 << 30));
        assert_eq!(parse_size("5MB"), Ok(5_000_000));
        assert!(parse_size("MiB").is_err());
        assert!(parse_size("12XB").unwrap_err().contains("XB"));
        assert!(parse_size("99999999999999TiB").is_err());
    }
}

//! Callbacks: which destinations may be called, the signature, and one delivery try.
//!
//! A callback is a JSON `POST` with `X-Canaryd-Event-Id` (for de-duplication: a delivery is
//! at-least-once), `X-Canaryd-Event`, and `X-Canaryd-Signature: sha256=HEX`, the HMAC-SHA256 of
//! the exact body under the analysis's `callback_secret`. Redirects are not followed, so an
//! allowed host cannot bounce canaryd elsewhere.
//!
//! Whoever may start an analysis chooses its `callback_url`, so canaryd must not become their
//! way into what only canaryd can reach. Loopback (this host's own services, e.g. a Prometheus
//! admin API on 127.0.0.1) is refused unless `[callbacks] allow_loopback`, link-local (cloud
//! metadata at 169.254.169.254) unless `allow_link_local`, and any other host unless
//! `allowed_hosts` names it. A name is checked again after it resolves, both when the analysis
//! is made and by the resolver the delivering client connects through, so a name whose DNS
//! answer changes to 127.0.0.1 later still cannot reach loopback.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::config::CallbackSettings;

/// `sha256=HEX` of `body` under `secret`.
pub fn signature(secret: &str, body: &[u8]) -> String {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        // HMAC takes keys of any length; this cannot happen.
        return String::new();
    };
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// The kinds of address that are refused unless a setting allows them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Local {
    /// 127.0.0.0/8, ::1, and 0.0.0.0/8 or :: (which reach this host on Linux).
    Loopback,
    /// 169.254.0.0/16 and fe80::/10 (cloud metadata services live here).
    LinkLocal,
}

fn classify_v4(ip: Ipv4Addr) -> Option<Local> {
    if ip.is_loopback() || ip.octets()[0] == 0 {
        Some(Local::Loopback)
    } else if ip.is_link_local() {
        Some(Local::LinkLocal)
    } else {
        None
    }
}

fn classify_v6(ip: Ipv6Addr) -> Option<Local> {
    if ip.is_loopback() || ip.is_unspecified() {
        return Some(Local::Loopback);
    }
    if (ip.segments()[0] & 0xffc0) == 0xfe80 {
        return Some(Local::LinkLocal);
    }
    // ::ffff:127.0.0.1 (IPv4-mapped) and the deprecated ::127.0.0.1 (IPv4-compatible) reach
    // the IPv4 address they carry.
    ip.to_ipv4().and_then(classify_v4)
}

fn classify(ip: IpAddr) -> Option<Local> {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

/// Why `ip` (what `host` names or resolves to) may not be called, or `None` when its kind is
/// not refused by `settings`. `Some(Ok(()))`: a local address that a setting allows.
fn check_address(
    host: &str,
    ip: IpAddr,
    settings: &CallbackSettings,
) -> Option<Result<(), String>> {
    let via = if host.trim_matches(|c| c == '[' || c == ']') == ip.to_string() {
        format!("'{host}'")
    } else {
        format!("'{host}' (resolves to {ip})")
    };
    match classify(ip)? {
        Local::Loopback if settings.allow_loopback => Some(Ok(())),
        Local::Loopback => Some(Err(format!(
            "host {via} is a loopback address: callbacks to this host's own services are \
             refused unless [callbacks] allow_loopback = true"
        ))),
        Local::LinkLocal if settings.allow_link_local => Some(Ok(())),
        Local::LinkLocal => Some(Err(format!(
            "host {via} is a link-local address (cloud metadata lives there): refused unless \
             [callbacks] allow_link_local = true"
        ))),
    }
}

/// The address a URL's host names literally (the URL parser has already normalised forms such
/// as `127.1` or `0x7f.0.0.1`, and keeps IPv6 in brackets).
fn ip_of(host: &str) -> Option<IpAddr> {
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .ok()
}

/// `localhost` and its subdomains (RFC 6761: they always resolve to loopback).
fn is_localhost_name(host: &str) -> bool {
    let host = host.trim_end_matches('.');
    host == "localhost" || host.ends_with(".localhost")
}

/// Whether `url` may be called back, judged from the URL alone: `http` or `https`, no
/// credentials, and a host that is loopback or link-local and allowed by `allow_loopback` /
/// `allow_link_local`, or that `allowed_hosts` names (`host`, `*.domain`, or `*`). A name that
/// passes may still resolve to a refused address: [`check_destination`] resolves it.
///
/// # Errors
/// Why not, in words that name the setting to change.
pub fn check_url(url: &str, settings: &CallbackSettings) -> Result<(), String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("not a URL: {e}"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(format!("scheme '{}' is not http or https", parsed.scheme()));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err("credentials in the URL are not accepted; sign with callback_secret".into());
    }
    let Some(name) = parsed.host_str() else {
        return Err("the URL has no host".into());
    };
    let name = name.to_ascii_lowercase();
    if let Some(ip) = ip_of(&name) {
        if let Some(verdict) = check_address(&name, ip, settings) {
            return verdict;
        }
    } else if is_localhost_name(&name) {
        return check_address(&name, IpAddr::V4(Ipv4Addr::LOCALHOST), settings).unwrap_or(Ok(()));
    }
    let ok = settings.allowed_hosts.iter().any(|a| {
        let a = a.trim().to_ascii_lowercase();
        a == "*"
            || a == name
            || a.strip_prefix("*.")
                .is_some_and(|domain| name.ends_with(&format!(".{domain}")))
    });
    if ok {
        Ok(())
    } else {
        Err(format!(
            "host '{name}' is not allowed: add it to [callbacks] allowed_hosts (none is allowed \
             by default; loopback needs allow_loopback)"
        ))
    }
}

/// [`check_url`], then, for a host name, every address it resolves to now. A name that does
/// not resolve passes (DNS may be down for a moment; delivery is retried, and the delivering
/// client checks the addresses it connects to in any case).
///
/// # Errors
/// Why not, in words that name the setting to change.
pub async fn check_destination(url: &str, settings: &CallbackSettings) -> Result<(), String> {
    check_url(url, settings)?;
    let Ok(parsed) = reqwest::Url::parse(url) else {
        return Ok(());
    };
    let Some(name) = parsed.host_str() else {
        return Ok(());
    };
    if ip_of(name).is_some() {
        return Ok(());
    }
    let port = parsed.port_or_known_default().unwrap_or(80);
    let Ok(addrs) = tokio::net::lookup_host((name, port)).await else {
        return Ok(());
    };
    for addr in addrs {
        if let Some(Err(why)) = check_address(name, addr.ip(), settings) {
            return Err(why);
        }
    }
    Ok(())
}

/// The error of a connection refused by `GuardedResolver`.
#[derive(Debug)]
pub struct RefusedAddress(pub String);

impl std::fmt::Display for RefusedAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for RefusedAddress {}

/// The system resolver, refusing names that resolve to an address the settings refuse. The
/// callback client connects only to addresses this returned, so the check holds at the moment
/// of connecting, whatever DNS said when the analysis was made.
struct GuardedResolver {
    settings: CallbackSettings,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let settings = self.settings.clone();
        let host = name.as_str().to_ascii_lowercase();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            for addr in &addrs {
                if let Some(Err(why)) = check_address(&host, addr.ip(), &settings) {
                    return Err(Box::new(RefusedAddress(why)) as _);
                }
            }
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// What one try gave.
#[derive(Debug)]
pub enum Outcome {
    /// A 2xx answer.
    Delivered(u16),
    /// Not sent: the name resolved to an address the settings refuse (trying again will not
    /// help unless DNS changes back, so the delivery is given up).
    Refused(String),
    /// Another answer, or none.
    Failed {
        /// The status, when one came.
        status: Option<u16>,
        /// Why.
        error: String,
    },
}

/// The client callbacks are sent with: no redirects, a timeout per try, and names resolved
/// through the resolver that refuses what `settings` refuse. No proxy either: a proxy would
/// connect to whatever the URL names, past that check.
pub fn client(settings: &CallbackSettings) -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .dns_resolver(Arc::new(GuardedResolver {
            settings: settings.clone(),
        }))
        .timeout(Duration::from_secs_f64(settings.timeout_seconds.max(0.1)))
        .user_agent(concat!("canaryd/", env!("CARGO_PKG_VERSION")))
        .build()
        .unwrap_or_default()
}

/// One try.
pub async fn send(
    client: &reqwest::Client,
    url: &str,
    event_id: &str,
    event: &str,
    body: &str,
    secret: Option<&str>,
) -> Outcome {
    let mut request = client
        .post(url)
        .header("Content-Type", "application/json")
        .header("X-Canaryd-Event-Id", event_id)
        .header("X-Canaryd-Event", event)
        .body(body.to_string());
    if let Some(secret) = secret {
        request = request.header("X-Canaryd-Signature", signature(secret, body.as_bytes()));
    }
    match request.send().await {
        Ok(r) if r.status().is_success() => Outcome::Delivered(r.status().as_u16()),
        Ok(r) => Outcome::Failed {
            status: Some(r.status().as_u16()),
            error: format!("answered {}", r.status()),
        },
        Err(e) => {
            if let Some(why) = refused_in(&e) {
                return Outcome::Refused(why);
            }
            Outcome::Failed {
                status: None,
                error: if e.is_timeout() {
                    "no answer in time".to_string()
                } else if e.is_connect() {
                    "connection failed".to_string()
                } else {
                    format!("request failed: {e}")
                },
            }
        }
    }
}

/// The [`RefusedAddress`] somewhere in `e`'s chain of causes.
fn refused_in(e: &reqwest::Error) -> Option<String> {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(c) = cause {
        if let Some(r) = c.downcast_ref::<RefusedAddress>() {
            return Some(r.0.clone());
        }
        cause = c.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_is_hmac_sha256_hex() {
        // RFC 4231 test case 2.
        assert_eq!(
            signature("Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    fn settings(allowed: &[&str], loopback: bool, link_local: bool) -> CallbackSettings {
        CallbackSettings {
            allowed_hosts: allowed.iter().map(|s| s.to_string()).collect(),
            allow_loopback: loopback,
            allow_link_local: link_local,
            ..CallbackSettings::default()
        }
    }

    #[test]
    fn nothing_local_by_default() {
        let d = CallbackSettings::default();
        assert!(!d.allow_loopback && !d.allow_link_local && d.allowed_hosts.is_empty());
        // Even with every other host allowed, local addresses stay refused.
        let any = settings(&["*"], false, false);
        for url in [
            "http://127.0.0.1:9000/hook",
            "http://127.8.9.10/hook",
            "http://127.1/hook",      // the URL parser normalises it to 127.0.0.1
            "http://0x7f.0.0.1/hook", // likewise
            "http://2130706433/hook", // likewise
            "http://localhost/hook",
            "http://LocalHost./hook",
            "http://api.localhost/hook", // RFC 6761
            "http://[::1]:8080/x",
            "http://[::ffff:127.0.0.1]/x",
            "http://[::127.0.0.1]/x",
            "http://0.0.0.0:9090/api/v1/admin/tsdb/delete_series",
            "http://[::]/x",
        ] {
            let e = check_url(url, &d).unwrap_err();
            assert!(e.contains("allow_loopback"), "{url}: {e}");
            let e = check_url(url, &any).unwrap_err();
            assert!(e.contains("allow_loopback"), "{url}: {e}");
        }
        for url in [
            "http://169.254.169.254/latest/meta-data",
            "http://[fe80::1]/x",
            "http://[::ffff:169.254.169.254]/x",
        ] {
            let e = check_url(url, &any).unwrap_err();
            assert!(e.contains("allow_link_local"), "{url}: {e}");
        }
        let e = check_url("http://10.0.0.5/hook", &d).unwrap_err();
        assert!(e.contains("allowed_hosts"), "{e}");
    }

    #[test]
    fn local_addresses_when_allowed() {
        let lo = settings(&[], true, false);
        assert!(check_url("http://127.0.0.1:9000/hook", &lo).is_ok());
        assert!(check_url("http://localhost/hook", &lo).is_ok());
        assert!(check_url("http://[::1]:8080/x", &lo).is_ok());
        assert!(check_url("http://169.254.169.254/x", &lo).is_err());
        assert!(check_url("http://10.0.0.5/hook", &lo).is_err());
        let ll = settings(&[], false, true);
        assert!(check_url("http://169.254.169.254/x", &ll).is_ok());
        assert!(check_url("http://127.0.0.1/x", &ll).is_err());
    }

    #[test]
    fn scheme_credentials_and_allowed_hosts() {
        let lo = settings(&[], true, false);
        assert!(check_url("ftp://127.0.0.1/x", &lo).is_err());
        assert!(check_url("http://user:pw@127.0.0.1/x", &lo).is_err());
        let allowed = settings(&["ci.example.com", "*.hooks.example.org"], false, false);
        assert!(check_url("https://ci.example.com/x", &allowed).is_ok());
        assert!(check_url("https://a.hooks.example.org/x", &allowed).is_ok());
        assert!(check_url("https://hooks.example.org.evil.com/x", &allowed).is_err());
        assert!(check_url("https://evilci.example.com/x", &allowed).is_err());
        assert!(check_url("https://anything/x", &settings(&["*"], false, false)).is_ok());
        assert!(check_url("http://10.0.0.5/x", &settings(&["10.0.0.5"], false, false)).is_ok());
    }

    /// A name that `allowed_hosts` admits but that resolves to loopback is refused once
    /// resolved: when the analysis is made, and by the client's resolver at delivery.
    #[tokio::test]
    async fn names_resolving_to_loopback() {
        // `localhost` resolves through the system resolver (/etc/hosts) without a network.
        let any = settings(&["*"], false, false);
        let lo = settings(&["*"], true, false);
        let e = check_destination("http://localhost:9/x", &any)
            .await
            .unwrap_err();
        assert!(e.contains("allow_loopback"), "{e}");
        assert!(check_destination("http://localhost:9/x", &lo).await.is_ok());
        // The resolver alone (check_url would already refuse the name `localhost`).
        let resolver = GuardedResolver { settings: any };
        let name: reqwest::dns::Name = "localhost".parse().unwrap();
        let e = match reqwest::dns::Resolve::resolve(&resolver, name).await {
            Ok(_) => panic!("localhost resolved although loopback is refused"),
            Err(e) => e.to_string(),
        };
        assert!(e.contains("loopback"), "{e}");
        let resolver = GuardedResolver { settings: lo };
        let name: reqwest::dns::Name = "localhost".parse().unwrap();
        let addrs: Vec<_> = reqwest::dns::Resolve::resolve(&resolver, name)
            .await
            .unwrap()
            .collect();
        assert!(addrs.iter().all(|a| a.ip().is_loopback()), "{addrs:?}");
    }

    /// The client refuses at connect time, whatever was checked before: here the name is
    /// sent straight to `send`, as if DNS had changed since the analysis was accepted.
    #[tokio::test]
    async fn the_client_refuses_what_resolves_to_loopback() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let client = client(&settings(&["*"], false, false));
        let url = format!("http://localhost:{port}/hook");
        match send(&client, &url, "e1", "test", "{}", None).await {
            Outcome::Refused(why) => assert!(why.contains("allow_loopback"), "{why}"),
            other => panic!("sent to loopback: {other:?}"),
        }
    }
}

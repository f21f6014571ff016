//! Callbacks: the allow-list of hosts, the signature, and one delivery try.
//!
//! A callback is a JSON `POST` with `X-Canaryd-Event-Id` (for de-duplication: a delivery is
//! at-least-once), `X-Canaryd-Event`, and `X-Canaryd-Signature: sha256=HEX`, the HMAC-SHA256 of
//! the exact body under the analysis's `callback_secret`. Redirects are not followed, so an
//! allowed host cannot bounce canaryd elsewhere.

use std::net::IpAddr;
use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// `sha256=HEX` of `body` under `secret`.
pub fn signature(secret: &str, body: &[u8]) -> String {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        // HMAC takes keys of any length; this cannot happen.
        return String::new();
    };
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

fn is_loopback(host: &str) -> bool {
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Whether `url` may be called back: `http` or `https`, and a loopback host or one that
/// `allowed` names (`host`, `*.domain`, or `*`).
///
/// # Errors
/// Why not, in words that name the setting to change.
pub fn check_url(url: &str, allowed: &[String]) -> Result<(), String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("not a URL: {e}"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(format!("scheme '{}' is not http or https", parsed.scheme()));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err("credentials in the URL are not accepted; sign with callback_secret".into());
    }
    let Some(host) = parsed.host_str() else {
        return Err("the URL has no host".into());
    };
    let host = host.to_ascii_lowercase();
    if is_loopback(&host) {
        return Ok(());
    }
    let ok = allowed.iter().any(|a| {
        let a = a.trim().to_ascii_lowercase();
        a == "*"
            || a == host
            || a.strip_prefix("*.")
                .is_some_and(|domain| host.ends_with(&format!(".{domain}")))
    });
    if ok {
        Ok(())
    } else {
        Err(format!(
            "host '{host}' is not allowed: add it to [callbacks] allowed_hosts (only loopback is \
             allowed by default)"
        ))
    }
}

/// What one try gave.
#[derive(Debug)]
pub enum Outcome {
    /// A 2xx answer.
    Delivered(u16),
    /// Another answer, or none.
    Failed {
        /// The status, when one came.
        status: Option<u16>,
        /// Why.
        error: String,
    },
}

/// The client callbacks are sent with: no redirects, a timeout per try.
pub fn client(timeout_seconds: f64) -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs_f64(timeout_seconds.max(0.1)))
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
        Err(e) => Outcome::Failed {
            status: None,
            error: if e.is_timeout() {
                "no answer in time".to_string()
            } else if e.is_connect() {
                "connection failed".to_string()
            } else {
                format!("request failed: {e}")
            },
        },
    }
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

    #[test]
    fn only_loopback_by_default() {
        assert!(check_url("http://127.0.0.1:9000/hook", &[]).is_ok());
        assert!(check_url("http://localhost/hook", &[]).is_ok());
        assert!(check_url("http://[::1]:8080/x", &[]).is_ok());
        let e = check_url("http://10.0.0.5/hook", &[]).unwrap_err();
        assert!(e.contains("allowed_hosts"), "{e}");
        assert!(check_url("http://169.254.169.254/latest/meta-data", &[]).is_err());
        assert!(check_url("ftp://127.0.0.1/x", &[]).is_err());
        assert!(check_url("http://user:pw@127.0.0.1/x", &[]).is_err());
        let allowed = vec![
            "ci.example.com".to_string(),
            "*.hooks.example.org".to_string(),
        ];
        assert!(check_url("https://ci.example.com/x", &allowed).is_ok());
        assert!(check_url("https://a.hooks.example.org/x", &allowed).is_ok());
        assert!(check_url("https://hooks.example.org.evil.com/x", &allowed).is_err());
        assert!(check_url("https://evilci.example.com/x", &allowed).is_err());
        assert!(check_url("https://anything/x", &["*".to_string()]).is_ok());
    }
}

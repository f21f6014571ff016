//! Tiny local HTTP servers for faults a real backend cannot be made to show on demand, and for
//! Datadog, whose API cannot run here. They run on the calling test's tokio runtime.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A local server: its URL, how many requests it has seen, and the request heads.
pub struct Fake {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// Requests received.
    pub hits: Arc<AtomicUsize>,
    /// Each request's head (request line and headers), in order.
    pub requests: Arc<Mutex<Vec<String>>>,
}

async fn read_head(stream: &mut TcpStream) -> Option<String> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            return Some(String::from_utf8_lossy(&buf[..end + 4]).into_owned());
        }
    }
}

fn response(status: u16, content_type: &str, body: &str) -> String {
    format!(
        "HTTP/1.1 {status} X\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

async fn bind() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    (listener, url)
}

/// Answers every request with `status` and `body` (JSON).
pub async fn fixed(status: u16, body: &'static str) -> Fake {
    responder(move |_| (status, body.to_string())).await
}

/// Answers each request with what `answer(request_head)` gives.
pub async fn responder<F>(answer: F) -> Fake
where
    F: Fn(&str) -> (u16, String) + Send + Sync + 'static,
{
    let (listener, url) = bind().await;
    let hits = Arc::new(AtomicUsize::new(0));
    let requests = Arc::new(Mutex::new(Vec::new()));
    let answer = Arc::new(answer);
    let (h, r) = (hits.clone(), requests.clone());
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let (h, r, answer) = (h.clone(), r.clone(), answer.clone());
            tokio::spawn(async move {
                let Some(head) = read_head(&mut stream).await else {
                    return;
                };
                h.fetch_add(1, Ordering::SeqCst);
                if let Ok(mut log) = r.lock() {
                    log.push(head.clone());
                }
                let (status, body) = answer(&head);
                let _ = stream
                    .write_all(response(status, "application/json", &body).as_bytes())
                    .await;
                let _ = stream.shutdown().await;
            });
        }
    });
    Fake {
        url,
        hits,
        requests,
    }
}

/// Accepts connections and never answers (a hung backend).
pub async fn silent() -> Fake {
    let (listener, url) = bind().await;
    let hits = Arc::new(AtomicUsize::new(0));
    let h = hits.clone();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            h.fetch_add(1, Ordering::SeqCst);
            held.push(stream);
        }
    });
    Fake {
        url,
        hits,
        requests: Arc::new(Mutex::new(Vec::new())),
    }
}

/// A proxy in front of `upstream` (`host:port`) that fails the first `failures` requests with
/// a 500 and forwards the rest.
pub async fn flaky_proxy(upstream: String, failures: usize) -> Fake {
    proxy(
        upstream,
        move |n, _| n < failures,
        std::time::Duration::ZERO,
    )
    .await
}

/// A proxy in front of `upstream` that fails with a 500 every request whose head (request line
/// and headers, the query string URL-encoded) contains `needle`, and forwards the rest: one
/// metric's queries broken while the others answer.
pub async fn failing_proxy(upstream: String, needle: &'static str) -> Fake {
    proxy(
        upstream,
        move |_, head| head.contains(needle),
        std::time::Duration::ZERO,
    )
    .await
}

/// A proxy in front of `upstream` that never answers a request whose head contains `needle`
/// (it holds the connection open, a backend hung for that one query) and forwards the rest.
/// The heads of the held requests are in [`Fake::requests`].
pub async fn holding_proxy(upstream: String, needle: &'static str) -> Fake {
    let (listener, url) = bind().await;
    let hits = Arc::new(AtomicUsize::new(0));
    let requests = Arc::new(Mutex::new(Vec::new()));
    let (h, r) = (hits.clone(), requests.clone());
    tokio::spawn(async move {
        let held = Arc::new(Mutex::new(Vec::new()));
        while let Ok((mut stream, _)) = listener.accept().await {
            let (h, r, held, upstream) = (h.clone(), r.clone(), held.clone(), upstream.clone());
            tokio::spawn(async move {
                let Some(head) = read_head(&mut stream).await else {
                    return;
                };
                h.fetch_add(1, Ordering::SeqCst);
                if head.contains(needle) {
                    if let Ok(mut log) = r.lock() {
                        log.push(head);
                    }
                    if let Ok(mut held) = held.lock() {
                        held.push(stream);
                    }
                    return;
                }
                forward(stream, &head, &upstream, std::time::Duration::ZERO).await;
            });
        }
    });
    Fake {
        url,
        hits,
        requests,
    }
}

/// A proxy in front of `upstream` that holds each answer back for `delay`, as a backend across
/// a network would.
pub async fn slow_proxy(upstream: String, delay: std::time::Duration) -> Fake {
    proxy(upstream, |_, _| false, delay).await
}

/// Forwards to `upstream`, except requests for which `fail(request number, head)` is true,
/// which get a 500.
async fn proxy<F>(upstream: String, fail: F, delay: std::time::Duration) -> Fake
where
    F: Fn(usize, &str) -> bool + Send + Sync + 'static,
{
    let fail = Arc::new(fail);
    let (listener, url) = bind().await;
    let hits = Arc::new(AtomicUsize::new(0));
    let h = hits.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let (h, upstream, fail) = (h.clone(), upstream.clone(), fail.clone());
            tokio::spawn(async move {
                let Some(head) = read_head(&mut stream).await else {
                    return;
                };
                let n = h.fetch_add(1, Ordering::SeqCst);
                if fail(n, &head) {
                    let body =
                        r#"{"status":"error","errorType":"internal","error":"injected failure"}"#;
                    let _ = stream
                        .write_all(response(500, "application/json", body).as_bytes())
                        .await;
                    return;
                }
                forward(stream, &head, &upstream, delay).await;
            });
        }
    });
    Fake {
        url,
        hits,
        requests: Arc::new(Mutex::new(Vec::new())),
    }
}

/// Sends `head` to `upstream` and its whole answer back to `stream`, `delay` later.
async fn forward(mut stream: TcpStream, head: &str, upstream: &str, delay: std::time::Duration) {
    // One request per upstream connection: ask for close so the answer ends at EOF.
    let head: String = head
        .split("\r\n")
        .filter(|l| !l.to_ascii_lowercase().starts_with("connection:"))
        .collect::<Vec<_>>()
        .join("\r\n");
    let head = head.trim_end().to_string() + "\r\nConnection: close\r\n\r\n";
    let Ok(mut up) = TcpStream::connect(upstream).await else {
        return;
    };
    if up.write_all(head.as_bytes()).await.is_err() {
        return;
    }
    let mut answer = Vec::new();
    let _ = up.read_to_end(&mut answer).await;
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let _ = stream.write_all(&answer).await;
    let _ = stream.shutdown().await;
}

/// What a [`switchable_proxy`] does with each request; change it at any time with
/// [`Switch::set`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Mode {
    /// Forwards to the upstream (the real backend answers).
    Forward = 0,
    /// Closes the connection without answering (a backend that crashed mid-request).
    Reset = 1,
    /// Holds the connection and never answers (a hung backend).
    Hang = 2,
    /// Answers 500 with a Prometheus error body.
    Error = 3,
    /// Answers 200 with HTML (a login page of a proxy in between).
    Garbage = 4,
    /// Answers 200 with a well-formed Prometheus matrix of `OVERSIZED_BYTES`.
    Oversized = 5,
}

/// The size of a [`Mode::Oversized`] answer: 48 MiB.
pub const OVERSIZED_BYTES: usize = 48 << 20;

/// The mode of a [`switchable_proxy`].
#[derive(Clone)]
pub struct Switch(Arc<std::sync::atomic::AtomicU8>);

impl Switch {
    /// From now on, do `mode`.
    pub fn set(&self, mode: Mode) {
        self.0.store(mode as u8, Ordering::SeqCst);
    }

    fn get(&self) -> u8 {
        self.0.load(Ordering::SeqCst)
    }
}

fn oversized_matrix() -> Vec<u8> {
    let head =
        r#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":["#;
    let mut body = head.as_bytes().to_vec();
    let mut t = 1_700_000_400u64;
    while body.len() < OVERSIZED_BYTES {
        body.extend_from_slice(format!("[{t},\"1.5\"],").as_bytes());
        t += 1;
    }
    body.extend_from_slice(format!("[{t},\"1.5\"]]}}]}}}}").as_bytes());
    body
}

/// A proxy in front of `upstream` (`host:port`) whose behaviour is switched by the returned
/// [`Switch`]: the faults of a real backend, on demand, between answers of the real one.
pub async fn switchable_proxy(upstream: String) -> (Fake, Switch) {
    let (listener, url) = bind().await;
    let hits = Arc::new(AtomicUsize::new(0));
    let switch = Switch(Arc::new(std::sync::atomic::AtomicU8::new(
        Mode::Forward as u8,
    )));
    let big: Arc<std::sync::OnceLock<Vec<u8>>> = Arc::new(std::sync::OnceLock::new());
    let held: Arc<Mutex<Vec<TcpStream>>> = Arc::new(Mutex::new(Vec::new()));
    let (h, sw) = (hits.clone(), switch.clone());
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let (h, upstream, sw) = (h.clone(), upstream.clone(), sw.clone());
            let (big, held) = (big.clone(), held.clone());
            tokio::spawn(async move {
                let Some(head) = read_head(&mut stream).await else {
                    return;
                };
                h.fetch_add(1, Ordering::SeqCst);
                let (status, content_type, body) = match sw.get() {
                    0 => return forward(stream, &head, &upstream, std::time::Duration::ZERO).await,
                    1 => return drop(stream),
                    2 => {
                        if let Ok(mut held) = held.lock() {
                            held.push(stream);
                        }
                        return;
                    }
                    3 => (
                        500,
                        "application/json",
                        br#"{"status":"error","errorType":"internal","error":"injected"}"#
                            .as_slice(),
                    ),
                    4 => (200, "text/html", b"<html>proxy login</html>".as_slice()),
                    _ => (
                        200,
                        "application/json",
                        big.get_or_init(oversized_matrix).as_slice(),
                    ),
                };
                let head = format!(
                    "HTTP/1.1 {status} X\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = stream.write_all(head.as_bytes()).await;
                let _ = stream.write_all(body).await;
                let _ = stream.shutdown().await;
            });
        }
    });
    (
        Fake {
            url,
            hits,
            requests: Arc::new(Mutex::new(Vec::new())),
        },
        switch,
    )
}

/// Answers every request with a 200 whose JSON body (a Prometheus matrix of one series) is
/// `total` bytes long, sent without a Content-Length (the end is the connection's close), in
/// 64 KiB writes: an oversized answer that can only be noticed by counting while reading.
/// Stops writing when the client hangs up.
pub async fn streaming(total: usize) -> Fake {
    let (listener, url) = bind().await;
    let hits = Arc::new(AtomicUsize::new(0));
    let h = hits.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let h = h.clone();
            tokio::spawn(async move {
                if read_head(&mut stream).await.is_none() {
                    return;
                }
                h.fetch_add(1, Ordering::SeqCst);
                let head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\
                            Connection: close\r\n\r\n";
                let start = r#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":["#;
                if stream.write_all(head.as_bytes()).await.is_err()
                    || stream.write_all(start.as_bytes()).await.is_err()
                {
                    return;
                }
                let point = r#"[1700000000,"1"],"#;
                let block = point.repeat(65_536 / point.len());
                let mut sent = start.len();
                while sent < total {
                    if stream.write_all(block.as_bytes()).await.is_err() {
                        return;
                    }
                    sent += block.len();
                }
                let _ = stream.write_all(br#"[1700000000,"1"]]}]}}"#).await;
                let _ = stream.shutdown().await;
            });
        }
    });
    Fake {
        url,
        hits,
        requests: Arc::new(Mutex::new(Vec::new())),
    }
}

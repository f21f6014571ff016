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
    proxy(upstream, failures, std::time::Duration::ZERO).await
}

/// A proxy in front of `upstream` that holds each answer back for `delay`, as a backend across
/// a network would.
pub async fn slow_proxy(upstream: String, delay: std::time::Duration) -> Fake {
    proxy(upstream, 0, delay).await
}

async fn proxy(upstream: String, failures: usize, delay: std::time::Duration) -> Fake {
    let (listener, url) = bind().await;
    let hits = Arc::new(AtomicUsize::new(0));
    let h = hits.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let (h, upstream) = (h.clone(), upstream.clone());
            tokio::spawn(async move {
                let Some(head) = read_head(&mut stream).await else {
                    return;
                };
                let n = h.fetch_add(1, Ordering::SeqCst);
                if n < failures {
                    let body =
                        r#"{"status":"error","errorType":"internal","error":"injected failure"}"#;
                    let _ = stream
                        .write_all(response(500, "application/json", body).as_bytes())
                        .await;
                    return;
                }
                // One request per upstream connection: ask for close so the answer ends at EOF.
                let head: String = head
                    .split("\r\n")
                    .filter(|l| !l.to_ascii_lowercase().starts_with("connection:"))
                    .collect::<Vec<_>>()
                    .join("\r\n");
                let head = head.trim_end().to_string() + "\r\nConnection: close\r\n\r\n";
                let Ok(mut up) = TcpStream::connect(&upstream).await else {
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
            });
        }
    });
    Fake {
        url,
        hits,
        requests: Arc::new(Mutex::new(Vec::new())),
    }
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

//! Issue 12: what an outside probe found. The role of a call comes from the route actix
//! matched, however the path is spelled; a Flagger call is authorized before its body is
//! parsed; template names are capped; `/metrics` stays bounded under inline templates.

use reqwest::Method;
use serde_json::{json, Value};

use crate::support::app::{spawn_app, Db, TestApp};

const READ: &str = "read-token-123";
const JUDGE: &str = "judge-token-456";
const ADMIN: &str = "admin-token-789";

fn sha256_hex(s: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(s.as_bytes()))
}

async fn app_with_tokens(tweak: impl FnOnce(&mut canaryd::config::Settings)) -> TestApp {
    spawn_app(Db::Sqlite, |s| {
        for (name, token, role) in [
            ("viewer", READ, canaryd::config::Role::Read),
            ("ci", JUDGE, canaryd::config::Role::Judge),
            ("ops", ADMIN, canaryd::config::Role::Admin),
        ] {
            s.auth.tokens.push(canaryd::config::TokenSettings {
                name: name.into(),
                token_sha256: sha256_hex(token),
                role,
            });
        }
        tweak(s);
    })
    .await
}

fn rank(role: &str) -> u8 {
    match role {
        "read" => 0,
        "judge" => 1,
        _ => 2,
    }
}

/// Every operation of the OpenAPI document (built from the same registrations as the routes):
/// method, path with its parameters filled in, and the role its security scope names (`None`:
/// public; a security requirement without a scope counts as admin, the default).
fn operations(doc: &Value) -> Vec<(Method, String, Option<String>)> {
    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            let Ok(m) = method.to_uppercase().parse::<Method>() else {
                continue;
            };
            if !op.is_object() {
                continue;
            }
            let role = op.get("security").map(|s| {
                s.as_array()
                    .and_then(|a| a.first())
                    .and_then(|r| r["bearer"].as_array())
                    .and_then(|scopes| scopes.first())
                    .and_then(Value::as_str)
                    .unwrap_or("admin")
                    .to_string()
            });
            let filled: Vec<String> = path
                .split('/')
                .map(|seg| {
                    if seg.starts_with('{') {
                        "x".to_string()
                    } else {
                        seg.to_string()
                    }
                })
                .collect();
            ops.push((m, filled.join("/"), role));
        }
    }
    ops
}

/// Spellings of `path` that actix may route like it or not at all: each literal segment with
/// its first character percent-encoded, all of them at once, doubled slashes, a trailing one.
fn variants(path: &str) -> Vec<String> {
    let segments: Vec<&str> = path.split('/').collect();
    let encode = |s: &str| {
        let mut chars = s.chars();
        match chars.next() {
            Some(c) if c.is_ascii_alphanumeric() && s != "x" => {
                format!("%{:02X}{}", c as u32, chars.as_str())
            }
            _ => s.to_string(),
        }
    };
    let mut out = Vec::new();
    for i in 1..segments.len() {
        let mut v = segments
            .clone()
            .into_iter()
            .map(String::from)
            .collect::<Vec<_>>();
        v[i] = encode(segments[i]);
        out.push(v.join("/"));
    }
    out.push(
        segments
            .iter()
            .map(|s| encode(s))
            .collect::<Vec<_>>()
            .join("/"),
    );
    out.push(format!("/{path}"));
    if let Some((head, last)) = path.rsplit_once('/') {
        out.push(format!("{head}//{last}"));
    }
    out.push(format!("{path}/"));
    out.retain(|v| v != path);
    out.sort();
    out.dedup();
    out
}

async fn call(app: &TestApp, method: &Method, path: &str, token: Option<&str>) -> (u16, Value) {
    let mut r = app.client.request(method.clone(), app.at(path));
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    let r = r.send().await.expect("request");
    crate::support::app::read(r).await
}

/// The probe's call, and then every route and method with every role and every spelling: a
/// caller whose role is too weak never gets past the check (401, 403, or the router's 404).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_needs_its_role_however_its_path_is_spelled() {
    let app = app_with_tokens(|_| {}).await;
    // The probe of issue 12: the plain path is refused; the encoded one was not.
    for path in ["/api/v1/gates/argo", "/api/v1/gates/%61rgo"] {
        let q = "?template=http-golden-signals&baseline=a&canary=b&window_minutes=5";
        let (status, e) = call(&app, &Method::GET, &format!("{path}{q}"), Some(READ)).await;
        assert_eq!(status, 403, "{path}: {e}");
    }

    let (status, doc) = call(&app, &Method::GET, "/openapi.json", Some(ADMIN)).await;
    assert_eq!(status, 200);
    let ops = operations(&doc);
    assert!(
        ops.len() >= 25,
        "only {} operations in the document",
        ops.len()
    );
    assert!(ops.iter().any(|(m, p, r)| m == Method::GET
        && p == "/api/v1/gates/argo"
        && r.as_deref() == Some("judge")));
    let mut checked = 0;
    for (method, path, role) in &ops {
        for (token, has) in [
            (None, None),
            (Some(READ), Some("read")),
            (Some(JUDGE), Some("judge")),
            (Some(ADMIN), Some("admin")),
        ] {
            let allowed = match (role, has) {
                (None, _) => true,
                (Some(_), None) => false,
                (Some(need), Some(has)) => rank(has) >= rank(need),
            };
            let (plain, body) = call(&app, method, path, token).await;
            let what = format!("{method} {path} as {has:?} (needs {role:?})");
            if allowed {
                assert!(![401, 403].contains(&plain), "{what}: {plain} {body}");
            } else {
                let expected = if token.is_none() { 401 } else { 403 };
                assert_eq!(plain, expected, "{what}: {body}");
            }
            for v in variants(path) {
                let (status, body) = call(&app, method, &v, token).await;
                let routed_404 = status == 404 && body["error"]["code"] == "not_found";
                let what = format!("{method} {v} as {has:?} (needs {role:?})");
                if allowed {
                    // The same answer, or the spelling matches no route: the router's 404 for
                    // admin, a refusal for anyone else (unknown paths need admin).
                    assert!(
                        status == plain || routed_404 || [401, 403].contains(&status),
                        "{what}: {status} (plain: {plain}) {body}"
                    );
                } else {
                    assert!(
                        [401, 403].contains(&status) || routed_404,
                        "{what}: {status} {body}"
                    );
                }
                checked += 1;
            }
        }
    }
    assert!(checked > 500, "{checked} variants");
    // Paths that match no route tell a caller without admin nothing.
    for (token, expected) in [
        (None, 401),
        (Some(READ), 403),
        (Some(JUDGE), 403),
        (Some(ADMIN), 404),
    ] {
        let (status, _) = call(&app, &Method::GET, "/api/v1/nothing-here", token).await;
        assert_eq!(status, expected, "{token:?}");
    }
    // Nothing above made a judgment.
    let (_, list) = call(&app, &Method::GET, "/api/v1/judgments", Some(ADMIN)).await;
    assert_eq!(
        list["judgments"].as_array().map(Vec::len),
        Some(0),
        "{list}"
    );
    app.stop().await;
}

async fn post_raw(app: &TestApp, path: &str, token: Option<&str>, body: Vec<u8>) -> (u16, Value) {
    let mut r = app
        .client
        .post(app.at(path))
        .header("content-type", "application/json")
        .body(body);
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    crate::support::app::read(r.send().await.expect("request")).await
}

/// A Flagger call is authorized before its body means anything: from the header when there is
/// one; else from `metadata.token`, and a body without one (bad JSON, too large) is a 401.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flagger_calls_are_authorized_before_their_body_is_parsed() {
    let app = app_with_tokens(|s| s.server.max_body_bytes = 64 * 1024).await;
    let big = {
        let mut b = br#"{"name":"p","namespace":"n","phase":"x","metadata":{"pad":""#.to_vec();
        b.extend(std::iter::repeat_n(b'a', 100 * 1024));
        b.extend(br#""}}"#);
        b
    };
    for path in ["/api/v1/gates/flagger", "/api/v1/gates/flagger/rollback"] {
        for body in [b"not json".to_vec(), b"{}".to_vec(), big.clone()] {
            let (status, e) = post_raw(&app, path, None, body).await;
            assert_eq!(status, 401, "{path}: {e}");
            let (status, e) = post_raw(&app, path, Some("wrong"), b"not json".to_vec()).await;
            assert_eq!(status, 401, "{path}: {e}");
            let (status, e) = post_raw(&app, path, Some(READ), b"not json".to_vec()).await;
            assert_eq!(status, 403, "{path}: {e}");
        }
        // Authorized, the body's faults are told.
        let (status, e) = post_raw(&app, path, Some(JUDGE), b"not json".to_vec()).await;
        assert_eq!(
            (status, e["error"]["code"].as_str()),
            (400, Some("invalid_json"))
        );
        let (status, _) = post_raw(&app, path, Some(JUDGE), big.clone()).await;
        assert_eq!(status, 413);
    }
    app.stop().await;
}

/// Template names are at most 128 characters wherever a name enters, with a 400 naming the field.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn template_names_are_capped_everywhere() {
    let app = spawn_app(Db::Sqlite, |_| {}).await;
    let long = "n".repeat(10_000);
    let ok = "n".repeat(128);
    let yaml = |name: &str| {
        format!("name: {name}\nmetrics:\n  - name: m\n    query: q{{v=\"${{scope}}\"}}\n")
    };
    let put = |name: String, body: String| {
        let r = app
            .client
            .put(app.at(&format!("/api/v1/templates/{name}")))
            .header("content-type", "application/yaml")
            .body(body);
        async move { crate::support::app::read(r.send().await.expect("request")).await }
    };
    let (status, e) = put(long.clone(), yaml(&long)).await;
    assert_eq!(
        (status, e["error"]["path"].as_str()),
        (400, Some("name (in the path)")),
        "{e}"
    );
    let (status, e) = put("t".into(), yaml(&long)).await;
    assert_eq!(status, 400, "{e}");
    let problem = &e["error"]["problems"][0];
    assert_eq!(
        (
            problem["field"].as_str(),
            problem["line"].as_u64(),
            problem["column"].as_u64()
        ),
        (Some("name"), Some(1), Some(7)),
        "{e}"
    );
    assert!(
        problem["message"].as_str().unwrap().contains("at most 128"),
        "{e}"
    );
    let (status, e) = put(ok.clone(), yaml(&ok)).await;
    assert_eq!(status, 201, "128 characters are fine: {e}");

    let data = json!({"metrics": {"m": {"baseline": [1.0, 2.0], "canary": [1.0, 2.0]}}});
    let inline = json!({"name": long, "metrics": [{"name": "m", "query": "q"}]});
    let (status, e) = app
        .post(
            "/api/v1/judgments",
            &json!({"template": inline, "data": data}),
        )
        .await;
    assert_eq!(status, 400, "{e}");
    assert!(e.to_string().contains("at most 128"), "{e}");
    let (status, e) = app
        .post(
            "/api/v1/judgments",
            &json!({"template": long, "data": data}),
        )
        .await;
    assert_eq!(
        (status, e["error"]["path"].as_str()),
        (400, Some("template")),
        "{e}"
    );
    let (status, e) = app
        .get(&format!(
            "/api/v1/gates/argo?template={long}&baseline=a&canary=b"
        ))
        .await;
    assert_eq!(
        (status, e["error"]["path"].as_str()),
        (400, Some("template")),
        "{e}"
    );
    let hook = json!({"name": "p", "namespace": "n", "phase": "Progressing",
        "metadata": {"template": long, "baseline": "a", "canary": "b"}});
    let (status, e) = app.post("/api/v1/gates/flagger", &hook).await;
    assert_eq!(
        (status, e["error"]["path"].as_str()),
        (400, Some("metadata.template")),
        "{e}"
    );
    let analysis = json!({"template": long, "baseline": "a", "canary": "b", "lifetime_minutes": 10, "interval_minutes": 5});
    let (status, e) = app.post("/api/v1/analyses", &analysis).await;
    assert_eq!(
        (status, e["error"]["path"].as_str()),
        (400, Some("template")),
        "{e}"
    );
    app.stop().await;
}

/// Inline templates are counted as `inline`: their names (and their metrics' names) make no
/// series in `/metrics`, however many there are.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inline_templates_do_not_grow_metrics() {
    let app = spawn_app(Db::Sqlite, |_| {}).await;
    for i in 0..300 {
        let metric = format!("metric_{i}_unique");
        let template = json!({"name": format!("inline-{i}-unique"),
            "metrics": [{"name": metric, "query": "q{v=\"${scope}\"}"}]});
        let data =
            json!({"metrics": {metric: {"baseline": [1.0, 2.0, 3.0], "canary": [1.0, 2.0, 3.0]}}});
        let (status, e) = app
            .post(
                "/api/v1/judgments",
                &json!({"template": template, "data": data}),
            )
            .await;
        assert_eq!(status, 201, "{e}");
    }
    let (status, text) = app.get("/metrics").await;
    assert_eq!(status, 200);
    let text = text.as_str().expect("text").to_string();
    assert!(!text.contains("-unique"), "an inline name is a label");
    let inline_series = text
        .lines()
        .filter(|l| !l.starts_with('#') && l.contains("template=\"inline\""))
        .count();
    // judgments_total by verdict, the score, classifications by classification: a handful.
    assert!(
        (1..=12).contains(&inline_series),
        "{inline_series} inline series"
    );
    app.stop().await;
}

//! The container image and the Kubernetes manifests (issue 13 item 6), checked offline:
//! `kubectl kustomize` renders the base and the PostgreSQL overlay, `kubernetes-validate`
//! (PyPI, installed by scripts/setup-test-deps.sh) checks every rendered object and the Secret
//! example against the Kubernetes schemas, and the things that matter are asserted: the
//! Service is the one integrations/ call, the probes hit /healthz and /readyz, the pods are
//! locked down, and the Dockerfile, the ConfigMap and the volumes agree on where the store and
//! the templates live (through canaryd's own config loader, with the container's environment).
//! Building and running the image is scripts/build-image.sh, not part of the test run.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use canaryd::config::Settings;
use serde_json::{json, Value};
use yaml_rust2::{Yaml, YamlLoader};

use crate::support::{self, repo_root, require_binary};

const BASE: &str = "deploy/kubernetes/base";
const OVERLAY: &str = "deploy/kubernetes/overlays/postgres";
/// The files of integrations/ that call canaryd in the cluster.
const CALLERS: &[&str] = &[
    "integrations/flagger/canary.yaml",
    "integrations/argo/analysis-template.yaml",
];

fn yaml_to_json(y: &Yaml) -> Value {
    match y {
        Yaml::Real(s) => s.parse::<f64>().map_or_else(|_| json!(s), |f| json!(f)),
        Yaml::Integer(i) => json!(i),
        Yaml::String(s) => json!(s),
        Yaml::Boolean(b) => json!(b),
        Yaml::Array(a) => Value::Array(a.iter().map(yaml_to_json).collect()),
        Yaml::Hash(h) => Value::Object(
            h.iter()
                .map(|(k, v)| {
                    let k = match k {
                        Yaml::String(s) => s.clone(),
                        other => format!("{other:?}"),
                    };
                    (k, yaml_to_json(v))
                })
                .collect(),
        ),
        Yaml::Null | Yaml::BadValue | Yaml::Alias(_) => Value::Null,
    }
}

fn parse_all(what: &str, text: &str) -> Vec<Value> {
    YamlLoader::load_from_str(text)
        .unwrap_or_else(|e| panic!("{what} is not valid YAML: {e}"))
        .iter()
        .map(yaml_to_json)
        .filter(|v| !v.is_null())
        .collect()
}

/// `kubectl kustomize DIR`.
fn render(dir: &str) -> String {
    let kubectl = require_binary("kubectl");
    let out = Command::new(kubectl)
        .arg("kustomize")
        .arg(repo_root().join(dir))
        .output()
        .expect("run kubectl");
    assert!(
        out.status.success(),
        "kubectl kustomize {dir}:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8")
}

/// `kubernetes-validate --strict` on `file`: the output, or why it failed.
fn validate(file: &Path) -> Result<String, String> {
    let out = Command::new("python3")
        .args(["-m", "kubernetes_validate", "--strict"])
        .arg(file)
        .output()
        .expect("python3");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if out.status.success() {
        Ok(text)
    } else {
        Err(text)
    }
}

fn assert_valid(scratch: &support::Scratch, name: &str, text: &str, objects: usize) {
    let file = scratch.file(name, text);
    match validate(&file) {
        Ok(out) => assert_eq!(
            out.matches(" passed for resource ").count(),
            objects,
            "kubernetes-validate checked every object of {name}:\n{out}"
        ),
        Err(out) => panic!(
            "kubernetes-validate (installed by scripts/setup-test-deps.sh) rejects {name}:\n{out}"
        ),
    }
}

fn find<'a>(docs: &'a [Value], kind: &str, name: &str) -> &'a Value {
    docs.iter()
        .find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name} in {docs:#?}"))
}

fn str_of<'a>(v: &'a Value, what: &str) -> &'a str {
    v.as_str()
        .unwrap_or_else(|| panic!("{what}: expected a string, got {v}"))
}

/// The container's environment variables with a literal `value`, and those from Secrets as
/// `secret:NAME/KEY`.
fn container_env(container: &Value) -> BTreeMap<String, String> {
    container["env"]
        .as_array()
        .expect("env")
        .iter()
        .map(|e| {
            let name = str_of(&e["name"], "env name").to_string();
            let value = if let Some(v) = e["value"].as_str() {
                v.to_string()
            } else if let Some(r) = e["valueFrom"]["secretKeyRef"].as_object() {
                format!("secret:{}/{}", r["name"], r["key"]).replace('"', "")
            } else {
                format!("field:{}", e["valueFrom"]["fieldRef"]["fieldPath"]).replace('"', "")
            };
            (name, value)
        })
        .collect()
}

/// The Dockerfile's instructions, continuation lines joined, comments left out.
fn dockerfile() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(repo_root().join("Dockerfile")).expect("Dockerfile");
    let mut out = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') || (line.is_empty() && current.is_empty()) {
            continue;
        }
        if let Some(part) = line.strip_suffix('\\') {
            current.push_str(part);
            current.push(' ');
            continue;
        }
        current.push_str(line);
        let (op, rest) = current.split_once(' ').unwrap_or((current.as_str(), ""));
        out.push((op.to_ascii_uppercase(), rest.trim().to_string()));
        current.clear();
    }
    out
}

/// What the image runs with: its user, environment, volumes, ports, and where COPY put
/// the templates.
struct Image {
    stages: usize,
    user: String,
    env: BTreeMap<String, String>,
    volumes: Vec<String>,
    exposed: Vec<String>,
    templates_copied_to: Option<String>,
}

fn image() -> Image {
    let mut image = Image {
        stages: 0,
        user: "root".into(),
        env: BTreeMap::new(),
        volumes: Vec::new(),
        exposed: Vec::new(),
        templates_copied_to: None,
    };
    for (op, rest) in dockerfile() {
        match op.as_str() {
            "FROM" => {
                // What counts is the last stage's.
                image.stages += 1;
                image.user = "root".into();
                image.env.clear();
                image.volumes.clear();
                image.exposed.clear();
                image.templates_copied_to = None;
            }
            "USER" => image.user = rest,
            "ENV" => {
                for pair in rest.split_whitespace() {
                    let (k, v) = pair.split_once('=').expect("ENV KEY=VALUE");
                    image.env.insert(k.to_string(), v.to_string());
                }
            }
            "VOLUME" => image
                .volumes
                .extend(rest.split_whitespace().map(str::to_string)),
            "EXPOSE" => image
                .exposed
                .extend(rest.split_whitespace().map(str::to_string)),
            "COPY" => {
                let parts: Vec<&str> = rest.split_whitespace().collect();
                if parts.first() == Some(&"analysis-templates/") {
                    image.templates_copied_to = parts.last().map(|s| s.to_string());
                }
            }
            _ => {}
        }
    }
    image
}

/// The settings canaryd would load in the container: the ConfigMap's file, then the image's
/// and the pod's environment (the Secret's values given as `secrets`).
fn settings_in_pod(
    scratch: &support::Scratch,
    config_toml: &str,
    image: &Image,
    pod_env: &BTreeMap<String, String>,
    secrets: &BTreeMap<&str, &str>,
) -> Settings {
    let file = scratch.file("canaryd.toml", config_toml);
    let mut env = image.env.clone();
    for (k, v) in pod_env {
        let v = match v.strip_prefix("secret:") {
            Some(r) => match secrets.get(r) {
                Some(s) => s.to_string(),
                None => continue,
            },
            None if v.starts_with("field:") => "canaryd-0".to_string(),
            None => v.clone(),
        };
        env.insert(k.clone(), v);
    }
    Settings::load_with_env(Some(&file), env)
        .unwrap_or_else(|e| panic!("the ConfigMap's canaryd.toml with the pod's env: {e}"))
}

fn sqlite_dir(url: &str) -> String {
    let path = url
        .strip_prefix("sqlite://")
        .unwrap_or_else(|| panic!("{url}: a sqlite:// URL expected"));
    assert!(path.starts_with('/'), "{url}: an absolute path expected");
    Path::new(path).parent().unwrap().display().to_string()
}

/// (service, namespace, port) of every `http://SERVICE.NAMESPACE.svc:PORT` in integrations/.
fn called_services() -> Vec<(String, String, u16, String)> {
    let mut found = Vec::new();
    for file in CALLERS {
        let text = std::fs::read_to_string(repo_root().join(file)).expect("integration file");
        for (at, _) in text.match_indices("http://") {
            let rest = &text[at..];
            let end = rest
                .find(|c: char| c.is_whitespace() || c == '"' || c == '\'')
                .unwrap_or(rest.len());
            let url = reqwest::Url::parse(&rest[..end]).expect("URL");
            let host = url.host_str().unwrap_or_default();
            if let Some(svc) = host.strip_suffix(".svc") {
                let (name, ns) = svc.split_once('.').expect("SERVICE.NAMESPACE.svc");
                found.push((
                    name.to_string(),
                    ns.to_string(),
                    url.port().unwrap_or(80),
                    file.to_string(),
                ));
            }
        }
    }
    assert!(
        found.len() >= 3,
        "the Flagger hooks and the Argo metric: {found:?}"
    );
    found
}

#[test]
fn manifests_validate_and_fit_the_callers_and_the_image() {
    let scratch = support::Scratch::new("deploy");
    let base_text = render(BASE);
    let base = parse_all("the rendered base", &base_text);
    assert_valid(&scratch, "base.yaml", &base_text, base.len());
    let overlay_text = render(OVERLAY);
    let overlay = parse_all("the rendered overlay", &overlay_text);
    assert_valid(&scratch, "overlay.yaml", &overlay_text, overlay.len());
    let example = std::fs::read_to_string(repo_root().join(BASE).join("secret.example.yaml"))
        .expect("secret example");
    assert_valid(&scratch, "secret.example.yaml", &example, 1);
    // The validator does check: a misspelt field is rejected.
    let broken = base_text.replacen("readOnlyRootFilesystem", "readOnlyRootFilesytem", 1);
    assert!(validate(&scratch.file("broken.yaml", &broken)).is_err());

    let kinds: Vec<&str> = base.iter().map(|d| d["kind"].as_str().unwrap()).collect();
    for kind in [
        "Namespace",
        "ConfigMap",
        "Service",
        "StatefulSet",
        "NetworkPolicy",
    ] {
        assert!(kinds.contains(&kind), "{kind} in the base: {kinds:?}");
    }
    assert!(
        !kinds.contains(&"Secret"),
        "no Secret is committed in the manifests: it is created by hand (README: Deploy)"
    );
    for d in base.iter().filter(|d| d["kind"] != "Namespace") {
        assert_eq!(d["metadata"]["namespace"], "canaryd", "{d:#}");
    }
    find(&base, "Namespace", "canaryd");

    let image = image();
    let sts = find(&base, "StatefulSet", "canaryd");
    let pod = &sts["spec"]["template"];
    let container = &pod["spec"]["containers"][0];

    // The Service is the one the integrations call, and it reaches the container's port.
    let port_of_http = container["ports"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "http")
        .expect("a port named http")["containerPort"]
        .as_i64()
        .unwrap();
    assert_eq!(port_of_http, 8080);
    for (name, ns, port, file) in called_services() {
        let svc = find(&base, "Service", &name);
        assert_eq!(svc["metadata"]["namespace"], ns.as_str(), "{file}");
        let ports = svc["spec"]["ports"].as_array().unwrap();
        let p = ports
            .iter()
            .find(|p| p["port"] == port)
            .unwrap_or_else(|| panic!("{file} calls port {port}: {svc:#}"));
        assert!(
            p["targetPort"] == "http" || p["targetPort"] == port_of_http,
            "{svc:#}"
        );
        for (k, v) in svc["spec"]["selector"].as_object().unwrap() {
            assert_eq!(
                &pod["metadata"]["labels"][k], v,
                "the Service selects the pods"
            );
        }
        assert_ne!(
            svc["spec"]["clusterIP"], "None",
            "{name} is a ClusterIP Service"
        );
    }

    // Probes.
    for (probe, path) in [
        ("livenessProbe", "/healthz"),
        ("readinessProbe", "/readyz"),
        ("startupProbe", "/healthz"),
    ] {
        let get = &container[probe]["httpGet"];
        assert_eq!(get["path"], path, "{probe}");
        assert!(get["port"] == "http" || get["port"] == 8080, "{probe}");
    }

    // Locked down.
    let sc = &container["securityContext"];
    assert_eq!(sc["readOnlyRootFilesystem"], true);
    assert_eq!(sc["allowPrivilegeEscalation"], false);
    assert_eq!(sc["runAsNonRoot"], true);
    assert_eq!(sc["capabilities"]["drop"], json!(["ALL"]));
    assert_eq!(sc["seccompProfile"]["type"], "RuntimeDefault");
    let psc = &pod["spec"]["securityContext"];
    assert_eq!(psc["runAsNonRoot"], true);
    assert_eq!(psc["seccompProfile"]["type"], "RuntimeDefault");
    assert_eq!(pod["spec"]["automountServiceAccountToken"], false);
    for r in ["cpu", "memory"] {
        assert!(
            container["resources"]["requests"][r].is_string(),
            "requests.{r}"
        );
    }
    assert!(container["resources"]["limits"]["memory"].is_string());

    // The image: built in stages, runs as the same non-root user the pod asks for.
    assert!(image.stages >= 2, "a multi-stage Dockerfile");
    let uid = image.user.split(':').next().unwrap();
    assert!(
        !matches!(uid, "" | "root" | "0"),
        "the image runs as {}",
        image.user
    );
    assert_eq!(
        psc["runAsUser"].to_string(),
        uid,
        "runAsUser is the image's user"
    );
    assert_eq!(image.env["CANARYD__SERVER__LISTEN"], "0.0.0.0:8080");
    assert!(image.exposed.iter().any(|p| p.starts_with("8080")));

    // Where things live, as canaryd loads them in the pod.
    let mounts: BTreeMap<String, String> = container["volumeMounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                str_of(&m["mountPath"], "mountPath").to_string(),
                str_of(&m["name"], "name").to_string(),
            )
        })
        .collect();
    let volumes: BTreeMap<String, Value> = pod["spec"]["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| (str_of(&v["name"], "volume").to_string(), v.clone()))
        .collect();
    let args: Vec<&str> = container["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    let config_path = args[args.iter().position(|a| *a == "--config").unwrap() + 1];
    let config_dir = Path::new(config_path)
        .parent()
        .unwrap()
        .display()
        .to_string();
    let config_volume = &volumes[&mounts[&config_dir]];
    let cm = find(
        &base,
        "ConfigMap",
        str_of(&config_volume["configMap"]["name"], "configMap"),
    );
    let config_file = Path::new(config_path)
        .file_name()
        .unwrap()
        .to_str()
        .unwrap();
    let config_toml = str_of(&cm["data"][config_file], "the config file");
    let pod_env = container_env(container);
    let tokens = format!(
        r#"[{{"name": "flagger", "token_sha256": "{}", "role": "judge"}}]"#,
        "ab".repeat(32)
    );
    let secrets = BTreeMap::from([("canaryd-server/auth-tokens", tokens.as_str())]);
    let s = settings_in_pod(&scratch, config_toml, &image, &pod_env, &secrets);
    assert_eq!(s.server.listen, "0.0.0.0:8080");
    assert_eq!(s.auth.tokens.len(), 1, "tokens come from the Secret");
    assert_eq!(s.scheduler.instance_id, "canaryd-0", "the pod name");
    let data_dir = sqlite_dir(&s.store.url);
    let data = &mounts[&data_dir];
    let claims: Vec<&str> = sts["spec"]["volumeClaimTemplates"]
        .as_array()
        .expect("volumeClaimTemplates")
        .iter()
        .map(|c| c["metadata"]["name"].as_str().unwrap())
        .collect();
    assert!(claims.contains(&data.as_str()), "{data_dir} is on a PVC");
    assert!(!volumes.contains_key(data), "the PVC, not a pod volume");
    assert_eq!(
        sts["spec"]["replicas"], 1,
        "one process owns the SQLite file"
    );
    // The image alone (docker run) agrees: its store is on its volume, its templates dir is
    // where COPY put the shipped templates, and so is the ConfigMap's.
    assert!(
        image
            .volumes
            .contains(&sqlite_dir(&image.env["CANARYD__STORE__URL"])),
        "{:?} {:?}",
        image.volumes,
        image.env
    );
    let copied = image
        .templates_copied_to
        .as_deref()
        .expect("templates copied");
    assert_eq!(
        image.env["CANARYD__TEMPLATES__DIR"].trim_end_matches('/'),
        copied.trim_end_matches('/')
    );
    assert_eq!(s.templates.dir, copied.trim_end_matches('/'));
    // With a read-only root filesystem, /tmp is a volume.
    assert!(volumes[&mounts["/tmp"]]["emptyDir"].is_object());
    for path in mounts.keys() {
        assert!(
            path == &data_dir || path == "/tmp" || path == &config_dir,
            "unexpected mount {path}"
        );
    }

    // The NetworkPolicy of README "Pipeline gates": from flagger and argo-rollouts on 8080;
    // out to Prometheus and DNS.
    let np = find(&base, "NetworkPolicy", "canaryd");
    assert_eq!(
        np["spec"]["podSelector"]["matchLabels"],
        pod["metadata"]["labels"]
    );
    assert_eq!(np["spec"]["policyTypes"], json!(["Ingress", "Egress"]));
    let ingress = np["spec"]["ingress"].as_array().unwrap();
    assert_eq!(ingress.len(), 1, "{np:#}");
    let from: Vec<&str> = ingress[0]["from"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            f["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
                .as_str()
                .expect("namespaces only")
        })
        .collect();
    assert_eq!(from, ["flagger", "argo-rollouts"]);
    assert_eq!(
        ingress[0]["ports"],
        json!([{"port": 8080, "protocol": "TCP"}])
    );
    let egress_ports = |np: &Value| -> Vec<i64> {
        np["spec"]["egress"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|e| e["ports"].as_array().unwrap().clone())
            .map(|p| p["port"].as_i64().unwrap())
            .collect()
    };
    let prometheus = reqwest::Url::parse(&s.sources["prometheus"].url).unwrap();
    let ports = egress_ports(np);
    assert!(ports.contains(&53), "DNS");
    assert!(
        ports.contains(&(prometheus.port().unwrap() as i64)),
        "Prometheus"
    );

    // The overlay: N replicas on PostgreSQL, the URL from the Secret, no PVC.
    let sts = find(&overlay, "StatefulSet", "canaryd");
    assert!(sts["spec"]["replicas"].as_i64().unwrap() > 1);
    assert!(sts["spec"].get("volumeClaimTemplates").is_none(), "{sts:#}");
    let container = &sts["spec"]["template"]["spec"]["containers"][0];
    let pod_env = container_env(container);
    assert_eq!(
        pod_env["CANARYD__STORE__URL"],
        "secret:canaryd-server/store-url"
    );
    let secrets = BTreeMap::from([(
        "canaryd-server/store-url",
        "postgres://canaryd:pw@postgres.db.svc:5432/canaryd",
    )]);
    let s = settings_in_pod(&scratch, config_toml, &image, &pod_env, &secrets);
    assert!(s.store.url.starts_with("postgres://"), "{}", s.store.url);
    assert_eq!(container["securityContext"]["readOnlyRootFilesystem"], true);
    assert!(egress_ports(find(&overlay, "NetworkPolicy", "canaryd")).contains(&5432));
    find(&overlay, "Service", "canaryd");
}

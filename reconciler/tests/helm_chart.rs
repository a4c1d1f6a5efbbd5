//! The Helm chart `deploy/helm/opssc-agent`, rendered for the reference
//! network's three organizations (`deploy/helm/examples/org{1,2,3}.yaml`).
//!
//! Helm is built from its Go module at a pinned version into the per-user
//! cache (`opssc_devnet::go_tool`, the code that builds Fabric's binaries).
//! `helm lint` must pass; `helm template` must render the objects an
//! organization needs, and the checks follow the agent's own reading of
//! them: the rendered `opssc.yaml` is loaded with `AgentConfig::load`, and
//! every file it names must lie in a volume that holds that file (the admin
//! MSP and git credentials from their Secrets, the state directory on the
//! claim), the probes must hit `/healthz` on the port `listen` names, and
//! the OpsSC server's Service must be the address the OpsSC package names.
//! No cluster is involved: what a kube-apiserver would add (defaulting,
//! admission) is not checked here.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use opssc_devnet::GoTool;
use opssc_schema::local::{AgentConfig, SpecSource};
use serde_json::Value;

const HELM: GoTool = GoTool {
    name: "helm",
    package: "helm.sh/helm/v4/cmd/helm",
    version: "v4.3.2",
};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn chart() -> PathBuf {
    repo_root().join("deploy/helm/opssc-agent")
}

fn example(org: &str) -> PathBuf {
    repo_root().join(format!("deploy/helm/examples/{org}.yaml"))
}

fn helm() -> PathBuf {
    opssc_devnet::go_tool(&HELM, &mut |line| eprintln!("helm: {line}"))
        .unwrap_or_else(|e| panic!("cannot build helm {}: {e}", HELM.version))
}

/// Runs `cmd`; the whole story on failure.
fn run(cmd: &mut Command) -> Output {
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"))
}

fn must_succeed(cmd: &mut Command) -> String {
    let shown = format!("{cmd:?}");
    let out = run(cmd);
    assert!(
        out.status.success(),
        "{shown} failed ({})\n--- stdout ---\n{}\n--- stderr ---\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// `helm template` with Helm's own state kept out of the user's home.
fn helm_cmd(helm: &Path, home: &Path) -> Command {
    let mut cmd = Command::new(helm);
    cmd.env("HELM_CACHE_HOME", home.join("cache"))
        .env("HELM_CONFIG_HOME", home.join("config"))
        .env("HELM_DATA_HOME", home.join("data"));
    cmd
}

fn render(helm: &Path, home: &Path, org: &str, extra: &[&str]) -> Vec<Value> {
    let text = must_succeed(
        helm_cmd(helm, home)
            .args(["template", "opssc-agent"])
            .arg(chart())
            .args(["--namespace", org, "-f"])
            .arg(example(org))
            .args(extra),
    );
    serde_saphyr::from_multiple::<Value>(&text)
        .unwrap_or_else(|e| panic!("helm template output does not parse as YAML: {e}\n{text}"))
        .into_iter()
        .filter(|d| !d.is_null())
        .collect()
}

fn s<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("no string at {pointer} in {v:#}"))
}

fn find<'a>(docs: &'a [Value], kind: &str, name: &str) -> &'a Value {
    docs.iter()
        .find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
        .unwrap_or_else(|| {
            let have: Vec<String> = docs
                .iter()
                .map(|d| format!("{} {}", d["kind"], d["metadata"]["name"]))
                .collect();
            panic!("no {kind} {name}; rendered: {have:?}")
        })
}

/// The volume behind the mount that holds `file` in `pod`'s container
/// `container`, and the path of `file` inside that volume.
fn volume_for<'a>(pod: &'a Value, container: &str, file: &Path) -> (&'a Value, PathBuf) {
    let c = pod["containers"]
        .as_array()
        .unwrap()
        .iter()
        .chain(pod["initContainers"].as_array().into_iter().flatten())
        .find(|c| c["name"] == container)
        .unwrap_or_else(|| panic!("no container {container}"));
    let mut best: Option<(&Value, PathBuf)> = None;
    for m in c["volumeMounts"].as_array().into_iter().flatten() {
        let mount = Path::new(s(m, "/mountPath"));
        if let Ok(rest) = file.strip_prefix(mount) {
            let deeper = best
                .as_ref()
                .is_none_or(|(_, r)| rest.components().count() < r.components().count());
            if deeper {
                let name = s(m, "/name");
                let vol = pod["volumes"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|v| v["name"] == name)
                    .unwrap_or_else(|| panic!("mount {name} has no volume"));
                best = Some((vol, rest.to_path_buf()));
            }
        }
    }
    best.unwrap_or_else(|| panic!("{} is under no mount of {container}", file.display()))
}

/// The keys a Secret volume projects, by path.
fn items(vol: &Value) -> BTreeMap<String, String> {
    vol["secret"]["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|i| (s(i, "/path").to_string(), s(i, "/key").to_string()))
        .collect()
}

fn labels_match(selector: &Value, labels: &Value) -> bool {
    let sel = selector.as_object().expect("a selector map");
    !sel.is_empty() && sel.iter().all(|(k, v)| labels.get(k) == Some(v))
}

/// The example's values, read as Helm does.
fn values(org: &str) -> Value {
    let text = std::fs::read_to_string(example(org)).unwrap();
    serde_saphyr::from_str(&text).unwrap()
}

#[test]
fn helm_lint_passes_for_each_reference_organization() {
    let helm = helm();
    let home = tempfile::tempdir().unwrap();
    for org in ["org1", "org2", "org3"] {
        let out = must_succeed(
            helm_cmd(&helm, home.path())
                .args(["lint", "--strict"])
                .arg(chart())
                .arg("-f")
                .arg(example(org)),
        );
        assert!(out.contains("0 chart(s) failed"), "{org}: {out}");
    }
}

#[test]
fn rendered_objects_carry_a_working_agent_for_each_reference_organization() {
    let helm = helm();
    let home = tempfile::tempdir().unwrap();
    let scratch = tempfile::tempdir().unwrap();
    for (org, msp) in [
        ("org1", "Org1MSP"),
        ("org2", "Org2MSP"),
        ("org3", "Org3MSP"),
    ] {
        let values = values(org);
        let docs = render(&helm, home.path(), org, &[]);
        let mut kinds: Vec<String> = docs.iter().map(|d| s(d, "/kind").to_string()).collect();
        kinds.sort();
        let mut expected = vec![
            "ConfigMap",
            "Deployment",
            "Deployment",
            "PersistentVolumeClaim",
            "Service",
            "Service",
        ];
        if org == "org3" {
            expected.push("ServiceMonitor");
            expected.sort();
        }
        assert_eq!(kinds, expected, "{org}");
        for d in &docs {
            let name = s(d, "/metadata/name");
            assert!(
                name.len() <= 63
                    && name
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
                "{org}: {name} is not a DNS label"
            );
            assert_eq!(
                d["metadata"]["labels"]["opssc.io/msp-id"], msp,
                "{org}: {name}"
            );
        }

        // The agent's opssc.yaml, as the agent loads it.
        let agent = find(&docs, "Deployment", "opssc-agent");
        let pod = &agent["spec"]["template"]["spec"];
        let container = &pod["containers"][0];
        assert_eq!(container["name"], "agent");
        let args: Vec<&str> = container["args"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap())
            .collect();
        assert_eq!(args[..2], ["agent", "--config"], "{org}");
        let config_path = Path::new(args[2]);
        let (config_vol, config_file) = volume_for(pod, "agent", config_path);
        let config_map = find(&docs, "ConfigMap", s(config_vol, "/configMap/name"));
        let text = s(
            config_map,
            &format!("/data/{}", config_file.to_str().unwrap().replace('/', "~1")),
        );
        let file = scratch.path().join(format!("{org}.yaml"));
        std::fs::write(&file, text).unwrap();
        let config = AgentConfig::load(&file).unwrap_or_else(|e| panic!("{org}: {e}\n{text}"));
        assert_eq!(config.msp_id, msp);
        match &config.spec {
            Some(SpecSource::Git {
                url, trusted_root, ..
            }) => {
                assert_eq!(url, s(&values, "/spec/url"), "{org}");
                assert_eq!(
                    trusted_root.as_deref(),
                    Some(s(&values, "/spec/trustedRoot"))
                );
            }
            other => panic!("{org}: spec is {other:?}"),
        }

        // The admin MSP: the identity Secret, keys laid out as an MSP directory.
        let (msp_vol, rest) = volume_for(pod, "agent", &config.identity.msp_dir);
        assert_eq!(
            rest,
            Path::new(""),
            "{org}: the MSP directory is the mount itself"
        );
        assert_eq!(
            msp_vol["secret"]["secretName"], values["identity"]["secretName"],
            "{org}"
        );
        let msp_items = items(msp_vol);
        let key_or = |field: &str, default: &str| {
            values["identity"][field]
                .as_str()
                .unwrap_or(default)
                .to_string()
        };
        for (path, field, default) in [
            ("signcerts/cert.pem", "certKey", "cert.pem"),
            ("keystore/priv_sk", "keyKey", "key.pem"),
            ("cacerts/ca.pem", "caKey", "root.pem"),
        ] {
            assert_eq!(
                msp_items.get(path),
                Some(&key_or(field, default)),
                "{org}: {path} in the MSP directory"
            );
        }
        // The Secret as the kubelet projects it, with a generated admin
        // certificate and key, loads as the agent loads its identity.
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec![])
            .unwrap()
            .self_signed(&key)
            .unwrap()
            .pem();
        let secret: BTreeMap<String, String> = [
            (key_or("certKey", "cert.pem"), cert.clone()),
            (key_or("keyKey", "key.pem"), key.serialize_pem()),
            (key_or("caKey", "root.pem"), cert),
        ]
        .into_iter()
        .collect();
        let projected = scratch.path().join(format!("{org}-msp"));
        for (path, key) in &msp_items {
            let file = projected.join(path);
            std::fs::create_dir_all(file.parent().unwrap()).unwrap();
            std::fs::write(&file, &secret[key]).unwrap();
        }
        opssc_fabric::SigningIdentity::from_msp_dir(msp, &projected)
            .unwrap_or_else(|e| panic!("{org}: the projected MSP does not load: {e}"));

        // TLS roots: each file named is a key of the ConfigMap or Secret given.
        let roots = config
            .peers
            .iter()
            .map(|p| &p.tls_root_cert)
            .chain(config.orderers.iter().map(|o| &o.tls_root_cert));
        for root in roots {
            let (vol, rest) = volume_for(pod, "agent", root);
            let from = if let Some(name) = values["tlsRootCerts"]["secretName"].as_str() {
                (&vol["secret"]["secretName"], name)
            } else {
                (
                    &vol["configMap"]["name"],
                    s(&values, "/tlsRootCerts/configMapName"),
                )
            };
            assert_eq!(from.0, from.1, "{org}: {}", root.display());
            assert_eq!(rest.components().count(), 1, "{org}: {}", root.display());
        }
        assert_eq!(config.peers.len(), 1, "{org}: peer0");
        assert_eq!(config.peers[0].name, "peer0");

        // Git credentials: every file is a key of the entry's Secret.
        let creds = values["gitCredentials"].as_array().unwrap();
        assert_eq!(config.git_credentials.len(), creds.len(), "{org}");
        for (c, v) in config.git_credentials.iter().zip(creds) {
            assert_eq!(c.url_prefix, s(v, "/urlPrefix"));
            let files = [
                (&c.password_file, "passwordKey"),
                (&c.ssh_key, "sshKeyKey"),
                (&c.ssh_key_passphrase_file, "sshKeyPassphraseKey"),
                (&c.known_hosts, "knownHostsKey"),
                (&c.ca_bundle, "caBundleKey"),
            ];
            let mut seen = 0;
            for (path, field) in files {
                assert_eq!(path.is_some(), v.get(field).is_some(), "{org}: {field}");
                let Some(path) = path else { continue };
                seen += 1;
                let (vol, rest) = volume_for(pod, "agent", path);
                assert_eq!(
                    vol["secret"]["secretName"], v["secretName"],
                    "{org}: {field}"
                );
                let key = s(v, &format!("/{field}"));
                assert_eq!(
                    items(vol).get(rest.to_str().unwrap()).map(String::as_str),
                    Some(key),
                    "{org}: {field} is projected where opssc.yaml reads it"
                );
            }
            assert!(seen > 0, "{org}: a credential with no file");
        }

        // The state directory on the claim; scratch space for /tmp.
        let state_dir = config.state_dir.as_ref().expect("stateDir is set");
        let (state_vol, rest) = volume_for(pod, "agent", state_dir);
        assert_eq!(rest, Path::new(""));
        let claim = s(state_vol, "/persistentVolumeClaim/claimName");
        find(&docs, "PersistentVolumeClaim", claim);
        let (tmp_vol, _) = volume_for(pod, "agent", Path::new("/tmp/x"));
        assert!(
            tmp_vol.get("emptyDir").is_some(),
            "{org}: /tmp is an emptyDir"
        );

        // Probes on /healthz, on the port opssc.yaml's `listen` names.
        let listen = config.listen.as_deref().expect("listen is set");
        let port: u64 = listen.rsplit(':').next().unwrap().parse().unwrap();
        let named = container["ports"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["containerPort"] == port)
            .unwrap_or_else(|| panic!("{org}: no container port {port}"));
        let port_name = s(named, "/name");
        for probe in ["startupProbe", "livenessProbe", "readinessProbe"] {
            assert_eq!(
                container[probe]["httpGet"]["path"], "/healthz",
                "{org}: {probe}"
            );
            assert_eq!(
                container[probe]["httpGet"]["port"], port_name,
                "{org}: {probe}"
            );
        }

        // Not root, no privilege escalation, read-only root file system.
        for (what, p) in [
            ("agent", pod),
            ("ccaas", {
                let d = find(&docs, "Deployment", "opssc-agent-ccaas");
                &d["spec"]["template"]["spec"]
            }),
        ] {
            assert_eq!(p["securityContext"]["runAsNonRoot"], true, "{org}: {what}");
            assert_ne!(p["securityContext"]["runAsUser"], 0, "{org}: {what}");
            let all = p["containers"]
                .as_array()
                .unwrap()
                .iter()
                .chain(p["initContainers"].as_array().into_iter().flatten());
            for c in all {
                assert_eq!(
                    c["securityContext"]["allowPrivilegeEscalation"], false,
                    "{org}: {what}"
                );
                assert_eq!(c["securityContext"]["readOnlyRootFilesystem"], true);
            }
            assert_eq!(p["automountServiceAccountToken"], false, "{org}: {what}");
        }

        // /metrics: a Service onto the agent's port, and for org3 a ServiceMonitor.
        let metrics = find(&docs, "Service", "opssc-agent-metrics");
        assert!(labels_match(
            &metrics["spec"]["selector"],
            &agent["spec"]["template"]["metadata"]["labels"]
        ));
        assert_eq!(metrics["spec"]["ports"][0]["targetPort"], port_name);
        if let Some(monitor) = docs.iter().find(|d| d["kind"] == "ServiceMonitor") {
            assert!(labels_match(
                &monitor["spec"]["selector"]["matchLabels"],
                &metrics["metadata"]["labels"]
            ));
            assert_eq!(monitor["spec"]["endpoints"][0]["path"], "/metrics");
            assert_eq!(monitor["spec"]["endpoints"][0]["port"], port_name);
            assert_eq!(monitor["metadata"]["labels"]["release"], "prometheus");
        }

        // The OpsSC server: the address in the OpsSC package is its Service,
        // and its init container computes the ID the agent installs.
        let (label, _, package_id) = opssc::agent::founding::opssc_package(&config)
            .unwrap_or_else(|e| panic!("{org}: {e:#}"));
        assert_eq!(
            label,
            format!("opssc_{}", env!("CARGO_PKG_VERSION")),
            "{org}: the chart's appVersion must be the opssc version"
        );
        let address = &config.chaincode_servers[&label];
        let (host, ccaas_port) = address.rsplit_once(':').unwrap();
        let service = find(&docs, "Service", host);
        let ccaas = find(&docs, "Deployment", "opssc-agent-ccaas");
        let ccaas_pod = &ccaas["spec"]["template"]["spec"];
        assert!(labels_match(
            &service["spec"]["selector"],
            &ccaas["spec"]["template"]["metadata"]["labels"]
        ));
        assert!(!labels_match(
            &service["spec"]["selector"],
            &agent["spec"]["template"]["metadata"]["labels"]
        ));
        assert_eq!(service["spec"]["ports"][0]["port"].to_string(), ccaas_port);
        let server = &ccaas_pod["containers"][0];
        let env: BTreeMap<&str, &str> = server["env"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| (s(e, "/name"), e["value"].as_str().unwrap_or("")))
            .collect();
        assert_eq!(
            env["CHAINCODE_SERVER_ADDRESS"],
            format!("0.0.0.0:{ccaas_port}")
        );
        let init = &ccaas_pod["initContainers"][0];
        let init_args: Vec<&str> = init["args"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap())
            .collect();
        assert_eq!(init_args[0], "ops-package-id");
        let (cfg_vol, cfg_rest) = volume_for(ccaas_pod, "package-id", Path::new(init_args[2]));
        assert_eq!(cfg_vol["configMap"]["name"], config_map["metadata"]["name"]);
        assert_eq!(cfg_rest, config_file);
        // The real command on the rendered file prints the agent's package ID.
        let printed = must_succeed(
            Command::new(env!("CARGO_BIN_EXE_opssc"))
                .args(["ops-package-id", "--config"])
                .arg(&file),
        );
        assert_eq!(printed.trim(), package_id, "{org}");
        assert!(
            package_id.starts_with(&format!("{label}:")) && package_id.len() == label.len() + 65,
            "{package_id}"
        );
        // ... into the file the server's command reads it from.
        let id_file = init_args[4];
        let command = server["command"].as_array().unwrap();
        assert!(
            command
                .last()
                .and_then(Value::as_str)
                .is_some_and(|c| c.contains(&format!("$(cat {id_file})"))
                    && c.contains("exec opssc-chaincode")),
            "{org}: {command:?}"
        );
        let (written, _) = volume_for(ccaas_pod, "package-id", Path::new(id_file));
        let (read, _) = volume_for(ccaas_pod, "opssc-chaincode", Path::new(id_file));
        assert_eq!(
            written, read,
            "{org}: the init container writes where the server reads"
        );
        assert!(
            read.get("emptyDir").is_some(),
            "{org}: the ID is passed in an emptyDir"
        );
    }
}

#[test]
fn a_fixed_chaincode_id_needs_no_init_container() {
    let helm = helm();
    let home = tempfile::tempdir().unwrap();
    let id = format!("opssc_{}:{}", env!("CARGO_PKG_VERSION"), "ab".repeat(32));
    let docs = render(
        &helm,
        home.path(),
        "org1",
        &["--set", &format!("opsscChaincode.chaincodeId={id}")],
    );
    let ccaas = find(&docs, "Deployment", "opssc-agent-ccaas");
    let pod = &ccaas["spec"]["template"]["spec"];
    assert!(pod.get("initContainers").is_none(), "{pod:#}");
    let env = &pod["containers"][0]["env"];
    assert!(
        env.as_array()
            .unwrap()
            .iter()
            .any(|e| e["name"] == "CHAINCODE_ID" && e["value"] == id.as_str()),
        "{env:#}"
    );
}

#[test]
fn missing_or_malformed_values_fail_with_what_to_set() {
    let helm = helm();
    let home = tempfile::tempdir().unwrap();
    let cases: [(&[&str], &str); 4] = [
        (&["--set", "mspId="], "set mspId"),
        (&["--set", "spec.trustedRoot=main"], "set spec.trustedRoot"),
        (
            &["--set", "identity.secretName="],
            "set identity.secretName",
        ),
        (
            &["--set", "gitCredentials[0].name=Spec_1"],
            "must be a DNS label",
        ),
    ];
    for (args, expected) in cases {
        let out = run(helm_cmd(&helm, home.path())
            .args(["template", "opssc-agent"])
            .arg(chart())
            .arg("-f")
            .arg(example("org1"))
            .args(args));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} rendered");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
}

/// The image and the chart agree: the user the image switches to is the one
/// the chart's pods run as, the entrypoint ends in `opssc` (the chart passes
/// only its arguments), and both binaries are built and copied.
#[test]
fn the_image_is_what_the_chart_expects() {
    let containerfile = std::fs::read_to_string(repo_root().join("deploy/Containerfile")).unwrap();
    let instructions: Vec<&str> = containerfile
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    let last = |keyword: &str| {
        instructions
            .iter()
            .rev()
            .find_map(|l| l.strip_prefix(keyword))
            .map(str::trim)
            .unwrap_or_else(|| panic!("no {keyword} in deploy/Containerfile"))
    };
    let chart_values: Value =
        serde_saphyr::from_str(&std::fs::read_to_string(chart().join("values.yaml")).unwrap())
            .unwrap();
    let uid = chart_values["podSecurityContext"]["runAsUser"]
        .as_u64()
        .unwrap();
    let gid = chart_values["podSecurityContext"]["runAsGroup"]
        .as_u64()
        .unwrap();
    assert_ne!(uid, 0);
    assert_eq!(last("USER "), format!("{uid}:{gid}"));
    // tini as PID 1 reaps children and forwards SIGTERM, on which the agent stops.
    assert_eq!(last("ENTRYPOINT "), r#"["/usr/bin/tini", "--", "opssc"]"#);
    assert!(
        last("CMD ").contains("/etc/opssc/config/opssc.yaml"),
        "the default command reads the chart's config path"
    );
    for bin in ["opssc", "opssc-chaincode"] {
        assert!(
            containerfile.contains(&format!("--bin {bin}"))
                && containerfile.contains(&format!("target/release/{bin}"))
                && containerfile.contains(&format!("/out/{bin}")),
            "{bin} is built and copied into the image"
        );
    }
    let chart_yaml: Value =
        serde_saphyr::from_str(&std::fs::read_to_string(chart().join("Chart.yaml")).unwrap())
            .unwrap();
    assert_eq!(
        chart_yaml["appVersion"],
        env!("CARGO_PKG_VERSION"),
        "the chart's appVersion is the opssc version (the image tag, the OpsSC label)"
    );
}

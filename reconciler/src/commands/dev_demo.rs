//! `opssc dev demo chaincode`: the paper's chaincode scenario, driven only by
//! a signed git commit.
//!
//! On a devnet started by `opssc dev up` with the agents running (the quick
//! start), the demo acts as Org1's administrator: it raises the version of a
//! chaincode in the devnet's spec repository and commits the change SSH-signed
//! with Org1's admin key — the only human act. Then it watches every
//! organization's `opssc status` until all of them report the new version
//! committed. The chaincode service itself is unchanged, so the demo keeps the
//! package label (and so the package ID and each organization's server); the
//! definition's version and sequence move, which is what every organization
//! must approve.
//!
//! Convergence is read as data, not from `opssc status`'s text: each
//! organization's status condition ([`opssc::agent::status`]) is Ready and
//! its own peer reports the new version committed (`_lifecycle`).

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use opssc::agent::context::Context;
use opssc::agent::status::Condition;
use opssc::agent::{spec_source, status};
use opssc_devnet::spec_repo::commit_files;
use opssc_devnet::state::StateFile;
use serde_json::Value;

use super::agent::{load_config, runtime};

/// The next version of a chaincode: the last number in it plus one (`1.0` → `1.1`).
pub fn next_version(version: &str) -> String {
    let digits_at = version
        .rfind(|c: char| !c.is_ascii_digit())
        .map_or(0, |i| i + 1);
    match version[digits_at..].parse::<u64>() {
        Ok(n) => format!("{}{}", &version[..digits_at], n + 1),
        Err(_) => format!("{version}.1"),
    }
}

/// Raises `spec.version` of a Chaincode document, pinning `spec.package.label`
/// to the label the current version uses. Returns (new text, old, new version).
pub fn bump_chaincode_document(text: &str) -> anyhow::Result<(String, String, String)> {
    let mut doc: Value =
        serde_saphyr::from_str(text).context("the chaincode file does not parse")?;
    if doc.get("kind").and_then(Value::as_str) != Some("Chaincode") {
        bail!("not a Chaincode document");
    }
    let name = doc["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let spec = doc.get_mut("spec").context("the document has no spec")?;
    let old = spec["version"]
        .as_str()
        .context("spec.version is not a string")?
        .to_string();
    let new = next_version(&old);
    let package = spec
        .get_mut("package")
        .context("the chaincode has no package")?;
    if package.get("label").is_none() {
        package["label"] = Value::String(format!("{name}_{old}"));
    }
    spec["version"] = Value::String(new.clone());
    let body =
        serde_saphyr::to_string(&doc).context("the chaincode document does not serialize")?;
    let header = text
        .lines()
        .next()
        .filter(|l| l.starts_with("# yaml-language-server"));
    let text = match header {
        Some(h) => format!("{h}\n{body}"),
        None => body,
    };
    Ok((text, old, new))
}

/// Runs the chaincode demo on the devnet in `state_dir`; returns the exit code.
pub fn chaincode(state_dir: &Path, timeout: Duration) -> anyhow::Result<i32> {
    let state = StateFile::load(state_dir)?;
    let Some(founded) = &state.founded else {
        bail!(
            "the devnet in {} was not founded from a spec (start it with `opssc dev up --spec network-spec`)",
            state_dir.display()
        );
    };
    let repo_dir = &founded.spec_repo.path;
    let repo = git2::Repository::open(repo_dir)
        .with_context(|| format!("cannot open the spec repository {}", repo_dir.display()))?;
    let file = ["chaincodes/kv.yaml"]
        .into_iter()
        .find(|f| repo_dir.join(f).is_file())
        .context("the spec repository has no chaincodes/kv.yaml to upgrade")?;
    let text = std::fs::read_to_string(repo_dir.join(file))?;
    let (new_text, old, new) = bump_chaincode_document(&text)?;
    let me = "Org1MSP";
    let key = founded.spec_repo.admin_key(me)?;
    let message = format!("kv: upgrade the definition {old} -> {new}");
    let oid = commit_files(&repo, &[(file, Some(&new_text))], &message, Some(&key))?;
    println!("{me}'s admin committed {oid} \"{message}\", SSH-signed — human step 1.");
    // Consent is per organization: the other organizations' agents approve
    // only once their own admins approved the commit in git. The demo holds
    // every admin key of the devnet, so it performs those human steps on
    // their behalf, visibly, with the function `opssc approve` runs.
    let mut step = 1;
    for (other, _) in founded
        .spec_repo
        .admin_keys
        .iter()
        .filter(|(m, _)| *m != me)
    {
        step += 1;
        let key = founded.spec_repo.admin_key(other)?;
        let stored = opssc::source::approve_with_key(&repo, oid, None, &key)?;
        println!(
            "{other}'s admin approved it (`opssc approve {oid}`; the demo does it on {other}'s behalf) — human step {step}: {}",
            stored.refname
        );
    }
    println!(
        "The agents now: notice the commit and the approvals, verify their signatures, file the ChaincodeUpgrade proposal,"
    );
    println!(
        "vote after recomputing it, approve the new definition, and one of them commits it.\n"
    );

    let configs: Vec<_> = state
        .plan
        .orgs
        .iter()
        .map(|o| o.agent_config.clone())
        .collect();
    let (channel, name) = chaincode_of(&new_text)?;
    opssc_fabric::participation::install_ring_provider();
    runtime()?.block_on(async move {
        let started = Instant::now();
        let mut orgs: Vec<Option<Context>> = configs.iter().map(|_| None).collect();
        loop {
            let mut done = 0;
            for (config, ctx) in configs.iter().zip(orgs.iter_mut()) {
                match converged(config, ctx, &channel, &name, &new).await {
                    Ok(true) => done += 1,
                    Ok(false) => {}
                    // Not readable yet (a peer restarting, a fetch failing):
                    // the next round asks again, with a new connection.
                    Err(_) => *ctx = None,
                }
            }
            println!(
                "  {done} of {} organizations see {name} {new} committed and are Ready ({:.0} s)",
                configs.len(),
                started.elapsed().as_secs_f64()
            );
            if done == configs.len() {
                println!(
                    "\nconverged in {:.1} s after the commit",
                    started.elapsed().as_secs_f64()
                );
                return Ok(0);
            }
            if started.elapsed() > timeout {
                println!(
                    "\nnot converged after {} s; are the agents running? (`./scripts/quickstart.sh` starts them)",
                    timeout.as_secs()
                );
                return Ok(1);
            }
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
    })
}

/// The channel and name of a Chaincode document.
fn chaincode_of(text: &str) -> anyhow::Result<(String, String)> {
    let doc: Value = serde_saphyr::from_str(text).context("the chaincode file does not parse")?;
    let name = doc["metadata"]["name"]
        .as_str()
        .context("the chaincode has no metadata.name")?;
    let channel = doc["spec"]["channel"]
        .as_str()
        .context("the chaincode has no spec.channel")?;
    Ok((channel.to_string(), name.to_string()))
}

/// Whether the organization of `config` is Ready and its own peer has
/// `version` of `name` committed on `channel`. Connects on first use.
pub(crate) async fn converged(
    config: &Path,
    ctx: &mut Option<Context>,
    channel: &str,
    name: &str,
    version: &str,
) -> anyhow::Result<bool> {
    if ctx.is_none() {
        *ctx = Some(Context::connect(load_config(config)?).await?);
    }
    let ctx = ctx.as_ref().expect("connected above");
    let committed =
        opssc_fabric::lifecycle::query_committed(&ctx.main_peer().endorser, channel, name).await?;
    if committed.is_none_or(|d| d.version != version) {
        return Ok(false);
    }
    let at = spec_source::resolve(&ctx.config, &ctx.state_dir.join("status"), None)?;
    Ok(status::status(ctx, &at).await?.condition == Condition::Ready)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_count_up() {
        assert_eq!(next_version("1.0"), "1.1");
        assert_eq!(next_version("1.9"), "1.10");
        assert_eq!(next_version("2"), "3");
        assert_eq!(next_version("v1-beta"), "v1-beta.1");
    }

    #[test]
    fn the_label_stays_and_the_version_moves() {
        let text = "# yaml-language-server: $schema=../../schema/network-spec.schema.json\napiVersion: opssc/v1alpha1\nkind: Chaincode\nmetadata:\n  name: kv\nspec:\n  channel: trade\n  version: \"1.0\"\n  package:\n    ccaas: {}\n";
        let (new_text, old, new) = bump_chaincode_document(text).unwrap();
        assert_eq!((old.as_str(), new.as_str()), ("1.0", "1.1"));
        assert!(new_text.starts_with("# yaml-language-server"));
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("kv.yaml"), &new_text).unwrap();
        let doc: Value = serde_saphyr::from_str(&new_text).unwrap();
        assert_eq!(doc["spec"]["version"], "1.1");
        assert_eq!(doc["spec"]["package"]["label"], "kv_1.0");
        // A second bump keeps the pinned label.
        let (again, _, newer) = bump_chaincode_document(&new_text).unwrap();
        assert_eq!(newer, "1.2");
        let doc: Value = serde_saphyr::from_str(&again).unwrap();
        assert_eq!(doc["spec"]["package"]["label"], "kv_1.0");
    }
}

//! The pull-request check of a spec repository, run locally: the workflows are
//! linted with actionlint (installed by `scripts/actionlint.sh`), and the
//! action's own scripts (`.github/actions/opssc-spec-check/check.sh` and
//! `comment.sh`) are run exactly as the workflow runs them, on a temporary copy
//! of `examples/spec-repo` with a change committed, against the `opssc` binary
//! built from this crate.
//!
//! Key decision: the tests run the scripts the workflow runs rather than
//! re-typing their commands, so a drift between "what CI does" and "what a user
//! runs" shows up here. GitHub itself is replaced only where it must be: a fake
//! `gh` on PATH keeps comments in a JSON file, so the update-in-place logic is
//! tested against the REST calls it makes.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the reconciler crate lives in the workspace root")
        .to_path_buf()
}

fn opssc() -> &'static str {
    env!("CARGO_BIN_EXE_opssc")
}

fn action_dir() -> PathBuf {
    repo_root().join(".github/actions/opssc-spec-check")
}

/// Runs a command; on an unexpected exit code, fails with the command, its
/// directory, stdout and stderr.
fn run(cmd: &mut Command, expect: i32) -> Output {
    let shown = format!("{cmd:?}");
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("could not run {shown}: {e}"));
    let code = out.status.code().unwrap_or(-1);
    assert_eq!(
        code,
        expect,
        "{shown} exited with {code}, expected {expect}\n--- stdout\n{}\n--- stderr\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

fn git(dir: &Path, args: &[&str]) {
    run(
        Command::new("git")
            .args([
                "-c",
                "user.name=Org1 Admin",
                "-c",
                "user.email=admin@org1.example.com",
            ])
            .args([
                "-c",
                "commit.gpgsign=false",
                "-c",
                "init.defaultBranch=main",
            ])
            .args(args)
            .current_dir(dir),
        0,
    );
}

/// A temporary spec repository: a copy of `examples/spec-repo`, committed as
/// the base branch.
fn spec_repo() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&repo_root().join("examples/spec-repo"), dir.path());
    git(dir.path(), &["init", "-q"]);
    git(dir.path(), &["add", "."]);
    git(
        dir.path(),
        &["commit", "-q", "-m", "the network as it runs"],
    );
    dir
}

fn edit(path: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(
        text.contains(from),
        "{} does not contain {from:?}",
        path.display()
    );
    std::fs::write(path, text.replacen(from, to, 1)).unwrap();
}

/// 1-based line of the first occurrence of `needle` in a file.
fn line_of(path: &Path, needle: &str) -> usize {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .position(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("{needle:?} not in {}", path.display()))
        + 1
}

struct Check {
    code: i32,
    stdout: String,
    markdown: String,
    summary: String,
}

/// Runs the action's check.sh the way action.yml does, from the repository root.
fn check(repo: &Path, state: Option<&str>, expect: i32) -> Check {
    let out_file = repo.join("opssc-plan.md");
    let summary_file = repo.join("step-summary.md");
    std::fs::write(&summary_file, "").unwrap();
    let mut cmd = Command::new(action_dir().join("check.sh"));
    cmd.arg("network")
        .args(state)
        .current_dir(repo)
        .env("OPSSC", opssc())
        .env("OPSSC_PLAN_OUT", &out_file)
        .env("GITHUB_STEP_SUMMARY", &summary_file)
        .env_remove("OPSSC_ORG")
        .env_remove("OPSSC_AGENT_CONFIG");
    let out = run(&mut cmd, expect);
    Check {
        code: out.status.code().unwrap(),
        stdout: String::from_utf8(out.stdout).unwrap(),
        markdown: std::fs::read_to_string(&out_file).unwrap_or_default(),
        summary: std::fs::read_to_string(&summary_file).unwrap(),
    }
}

#[test]
fn actionlint_passes_on_every_workflow() {
    let out = run(
        &mut Command::new(repo_root().join("scripts/actionlint.sh")),
        0,
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("workflows clean"), "{stdout}");
}

#[test]
fn actionlint_installs_itself_into_an_empty_cache() {
    // What a fresh machine does: the script fetches the pinned actionlint from
    // the Go module proxy into ${XDG_CACHE_HOME}/opssc/tools, then lints.
    let cache = tempfile::tempdir().unwrap();
    let out = run(
        Command::new(repo_root().join("scripts/actionlint.sh")).env("XDG_CACHE_HOME", cache.path()),
        0,
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("installing actionlint v1.7.12"), "{stderr}");
    let tool = cache.path().join("opssc/tools/actionlint");
    let version = run(Command::new(&tool).arg("-version"), 0);
    assert!(String::from_utf8_lossy(&version.stdout).starts_with("v1.7.12"));
}

#[test]
fn actionlint_reports_a_broken_workflow() {
    // The lint test above can fail: the same script flags a real mistake.
    let dir = tempfile::tempdir().unwrap();
    let workflow = dir.path().join("broken.yml");
    std::fs::write(
        &workflow,
        "on: pull_request\njobs:\n  check:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo ${{ github.event.pull_request.numbr }}\n        shell: bash\n      - uses: actions/checkout@v4\n        with:\n          refs: main\n",
    )
    .unwrap();
    let out = run(
        Command::new(repo_root().join("scripts/actionlint.sh")).arg(&workflow),
        1,
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("broken.yml:10:11"),
        "the unknown `refs` input is not reported:\n{stdout}"
    );
}

#[test]
fn actionlint_checks_the_reusable_workflow_against_the_action_inputs() {
    // spec-check.yml runs the action from a checkout that exists only at run
    // time; the script lints it in a scratch tree laid out that way. A `with:`
    // key the action does not declare must be reported.
    let tree = tempfile::tempdir().unwrap();
    copy_dir(&repo_root().join(".github"), &tree.path().join(".github"));
    copy_dir(&repo_root().join("scripts"), &tree.path().join("scripts"));
    let workflow = tree.path().join(".github/workflows/spec-check.yml");
    edit(
        &workflow,
        "          agent-config: ${{",
        "          agent-confg: ${{",
    );
    let out = run(
        &mut Command::new(tree.path().join("scripts/actionlint.sh")),
        1,
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("input \"agent-confg\" is not defined"),
        "the unknown input is not reported:\n{stdout}"
    );
}

#[test]
fn schema_comment_of_every_example_file_resolves() {
    let schema = repo_root()
        .join("schema/network-spec.schema.json")
        .canonicalize()
        .unwrap();
    let mut seen = 0;
    let mut stack = vec![repo_root().join("examples/spec-repo/network")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            let first = text.lines().next().unwrap_or_default();
            let relative = first
                .strip_prefix("# yaml-language-server: $schema=")
                .unwrap_or_else(|| {
                    panic!(
                        "{}: first line is not a $schema comment: {first:?}",
                        path.display()
                    )
                });
            let target = path.parent().unwrap().join(relative);
            let resolved = target
                .canonicalize()
                .unwrap_or_else(|e| panic!("{}: {relative} does not resolve: {e}", path.display()));
            assert_eq!(
                resolved,
                schema,
                "{}: {relative} points elsewhere",
                path.display()
            );
            seen += 1;
        }
    }
    assert!(seen >= 5, "only {seen} spec files found");
}

#[test]
fn the_example_as_committed_is_valid_and_has_no_changes() {
    // The committed snapshot loads with this opssc and matches the committed spec.
    let repo = spec_repo();
    let c = check(repo.path(), Some("state/observed.json"), 0);
    assert!(!c.stdout.contains("::error"), "{}", c.stdout);
    // Warnings are annotations too, on the right file and line.
    let org1 = repo.path().join("network/orgs/org1.yaml");
    let want = format!(
        "::warning file=network/orgs/org1.yaml,line={},",
        line_of(&org1, "mspId: Org1MSP")
    );
    assert!(c.stdout.contains(&want), "no {want} in\n{}", c.stdout);
    assert!(c.markdown.contains("No changes"), "{}", c.markdown);
    assert_eq!(c.summary, c.markdown);
}

#[test]
fn a_pull_request_adding_an_org_and_upgrading_a_chaincode_is_planned() {
    let repo = spec_repo();
    let root = repo.path();
    std::fs::write(
        root.join("network/orgs/org4.yaml"),
        "# yaml-language-server: $schema=../../../../schema/network-spec.schema.json\n\
         apiVersion: opssc/v1alpha1\nkind: Organization\nmetadata:\n  name: org4\nspec:\n  mspId: Org4MSP\n  \
         peers:\n    - name: peer0\n      endpoint: peer0.org4.example.com:7051\n      anchor: true\n",
    )
    .unwrap();
    let trade = root.join("network/channels/trade.yaml");
    edit(
        &trade,
        "members: [Org1MSP, Org2MSP, Org3MSP]",
        "members: [Org1MSP, Org2MSP, Org3MSP, Org4MSP]",
    );
    edit(&trade, "application: V2_5", "application: V2_0");
    edit(
        &root.join("network/chaincodes/kv.yaml"),
        "version: \"1.0\"",
        "version: \"1.1\"",
    );
    git(root, &["add", "."]);
    git(root, &["commit", "-q", "-m", "Org4 joins trade; kv 1.1"]);

    let c = check(root, Some("state/observed.json"), 0);
    assert_eq!(c.code, 0, "plan's exit 2 (changes) is a successful check");
    assert!(!c.stdout.contains("::error"), "{}", c.stdout);
    let md = &c.markdown;
    // The changes.
    assert!(md.contains("Org4MSP joins channel trade"), "{md}");
    assert!(md.contains("kv 1.0 → 1.1"), "{md}");
    assert!(md.contains("sequence 1 → 2"), "{md}");
    // Who must approve: the current members, by the channel's policies.
    assert!(
        md.contains("2 of {Org1MSP, Org2MSP, Org3MSP} (MAJORITY Admins of channel trade)"),
        "{md}"
    );
    assert!(md.contains("LifecycleEndorsement of channel trade"), "{md}");
    // The risk.
    assert!(md.contains("capability downgrade"), "{md}");
    assert!(md.contains("V2_5 → V2_0"), "{md}");
    assert!(md.starts_with("### opssc plan"), "{md}");
    // Consent: no admin approved this tree, so every organization is listed
    // as missing, with the command its admin runs.
    assert!(md.contains("### Consent: approvals of this tree"), "{md}");
    for org in ["Org1MSP", "Org2MSP", "Org3MSP"] {
        assert!(
            md.contains(&format!(
                "{org}: missing (an admin of {org} runs `opssc approve"
            )),
            "{md}"
        );
    }
    assert_eq!(
        c.summary, c.markdown,
        "the job summary gets the same Markdown"
    );
    // The workflow log shows the plan too.
    assert!(
        c.stdout.contains("Org4MSP joins channel trade"),
        "{}",
        c.stdout
    );
}

#[test]
fn a_pull_request_with_a_broken_file_is_annotated_and_fails() {
    let repo = spec_repo();
    let root = repo.path();
    let trade = root.join("network/channels/trade.yaml");
    edit(
        &trade,
        "members: [Org1MSP, Org2MSP, Org3MSP]",
        "members: [Org1MSP, Org2MSP, Org9MSP]",
    );
    let kv = root.join("network/chaincodes/kv.yaml");
    edit(&kv, "channel: trade", "channel: trad");
    git(root, &["commit", "-q", "-am", "typos"]);

    let c = check(root, Some("state/observed.json"), 1);
    let member_line = line_of(&trade, "Org9MSP");
    let channel_line = line_of(&kv, "channel: trad");
    let errors: Vec<&str> = c
        .stdout
        .lines()
        .filter(|l| l.starts_with("::error "))
        .collect();
    assert!(
        errors.iter().any(|l| l.starts_with(&format!(
            "::error file=network/channels/trade.yaml,line={member_line},"
        )) && l.contains("Org9MSP")),
        "no annotation on trade.yaml:{member_line}:\n{}",
        c.stdout
    );
    assert!(
        errors.iter().any(|l| l.starts_with(&format!(
            "::error file=network/chaincodes/kv.yaml,line={channel_line},"
        ))),
        "no annotation on kv.yaml:{channel_line}:\n{}",
        c.stdout
    );
    // The comment says so and lists the same findings; no stale plan survives.
    let md = &c.markdown;
    assert!(
        md.starts_with("### opssc: the spec in `network` is invalid"),
        "{md}"
    );
    assert!(
        md.contains(&format!("network/channels/trade.yaml:{member_line}:")),
        "{md}"
    );
    assert!(
        md.contains(&format!("network/chaincodes/kv.yaml:{channel_line}:")),
        "{md}"
    );
    assert!(!md.contains("opssc plan:"), "{md}");
    assert_eq!(c.summary, c.markdown);
}

#[test]
fn without_a_state_the_check_validates_only() {
    let repo = spec_repo();
    let c = check(repo.path(), None, 0);
    assert!(c.markdown.contains("`network` is valid"), "{}", c.markdown);
    assert!(c.markdown.contains("No state snapshot"), "{}", c.markdown);
}

#[test]
fn an_unreadable_state_fails_the_check_with_the_reason() {
    let repo = spec_repo();
    std::fs::write(
        repo.path().join("state/observed.json"),
        "{\"observed_by\": 3}",
    )
    .unwrap();
    let c = check(repo.path(), Some("state/observed.json"), 1);
    assert!(
        c.markdown
            .starts_with("### opssc: planning `network` failed"),
        "{}",
        c.markdown
    );
    assert!(c.markdown.contains("state/observed.json"), "{}", c.markdown);
}

/// A stand-in for `gh api` that keeps an issue's comments in a JSON file and
/// logs each call, for the REST calls comment.sh makes.
const FAKE_GH: &str = r#"#!/usr/bin/env bash
set -euo pipefail
store="$FAKE_GH_STORE"
[ "$1" = api ] || { echo "fake gh: only 'api' is faked" >&2; exit 64; }
shift
method=GET body="" path=""
while [ $# -gt 0 ]; do
  case "$1" in
    --paginate) shift ;;
    --method) method=$2; shift 2 ;;
    -f) body=${2#body=}; shift 2 ;;
    *) path=$1; shift ;;
  esac
done
echo "$method $path" >>"$store.log"
case "$method $path" in
  "GET repos/acme/network/issues/12/comments") cat "$store" ;;
  "POST repos/acme/network/issues/12/comments")
    jq --arg b "$body" '. + [{id: ((map(.id) | max // 0) + 1), body: $b}]' "$store" >"$store.new"
    mv "$store.new" "$store" ;;
  "PATCH repos/acme/network/issues/comments/"*)
    id=${path##*/}
    jq --arg b "$body" --argjson id "$id" 'map(if .id == $id then .body = $b else . end)' "$store" >"$store.new"
    mv "$store.new" "$store" ;;
  *) echo "fake gh: unexpected call: $method $path" >&2; exit 65 ;;
esac
"#;

#[test]
fn the_plan_comment_is_created_once_then_updated_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    let gh = bin.join("gh");
    std::fs::write(&gh, FAKE_GH).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&gh, std::fs::Permissions::from_mode(0o755)).unwrap();
    let store = dir.path().join("comments.json");
    std::fs::write(&store, r#"[{"id": 7, "body": "LGTM from Org2"}]"#).unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );

    let comment = |body: &str| {
        let file = dir.path().join("plan.md");
        std::fs::write(&file, body).unwrap();
        run(
            Command::new(action_dir().join("comment.sh"))
                .arg(&file)
                .env("PATH", &path)
                .env("FAKE_GH_STORE", &store)
                .env("GITHUB_REPOSITORY", "acme/network")
                .env("PR_NUMBER", "12")
                .env("HEAD_SHA", "0123abcd"),
            0,
        );
        let comments: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&store).unwrap()).unwrap();
        comments.as_array().unwrap().clone()
    };

    let after_first = comment("### opssc plan: first push\n");
    assert_eq!(after_first.len(), 2, "{after_first:?}");
    assert_eq!(
        after_first[0]["body"], "LGTM from Org2",
        "other comments are left alone"
    );
    let ours = after_first[1]["body"].as_str().unwrap();
    assert!(
        ours.starts_with("<!-- opssc-plan -->\n### opssc plan: first push"),
        "{ours}"
    );
    assert!(ours.contains("0123abcd"), "{ours}");

    let after_second = comment("### opssc plan: second push\n");
    assert_eq!(
        after_second.len(),
        2,
        "a second push must not add a comment: {after_second:?}"
    );
    assert_eq!(after_second[1]["id"], after_first[1]["id"]);
    let ours = after_second[1]["body"].as_str().unwrap();
    assert!(
        ours.contains("second push") && !ours.contains("first push"),
        "{ours}"
    );

    // GitHub refuses bodies over 65536 characters: a huge plan is cut, with a note.
    let after_huge = comment(&"| x |\n".repeat(20_000));
    let ours = after_huge[1]["body"].as_str().unwrap();
    assert!(
        ours.chars().count() <= 65_536,
        "{} characters",
        ours.chars().count()
    );
    assert!(ours.contains("truncated"), "no truncation note");

    let log = std::fs::read_to_string(dir.path().join("comments.json.log")).unwrap();
    let calls: Vec<&str> = log.lines().collect();
    assert_eq!(
        calls,
        [
            "GET repos/acme/network/issues/12/comments",
            "POST repos/acme/network/issues/12/comments",
            "GET repos/acme/network/issues/12/comments",
            "PATCH repos/acme/network/issues/comments/8",
            "GET repos/acme/network/issues/12/comments",
            "PATCH repos/acme/network/issues/comments/8",
        ]
    );
}

#[test]
fn an_agent_config_without_a_state_plans_against_the_live_network() {
    // With no snapshot, the check runs `opssc plan --config` (the live
    // observation itself is tested end to end in plan_live.rs). Here the
    // configuration cannot be read, so the plan fails and says why, and the
    // comment names the configuration without its private path.
    let repo = spec_repo();
    let out_file = repo.path().join("opssc-plan.md");
    let missing = repo.path().join("no-such-dir/opssc.yaml");
    let out = run(
        Command::new(action_dir().join("check.sh"))
            .arg("network")
            .current_dir(repo.path())
            .env("OPSSC", opssc())
            .env("OPSSC_PLAN_OUT", &out_file)
            .env("OPSSC_AGENT_CONFIG", &missing)
            .env_remove("OPSSC_ORG")
            .env_remove("GITHUB_STEP_SUMMARY"),
        1,
    );
    let markdown = std::fs::read_to_string(&out_file).unwrap();
    assert!(
        markdown.contains("`opssc plan --spec network --config <agent-config>` exited with"),
        "{markdown}"
    );
    assert!(
        markdown.contains("cannot read agent configuration"),
        "{markdown}"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("==> opssc plan --spec network --config <agent-config>"),
        "{stdout}"
    );
}

#!/usr/bin/env bash
# The opssc pull-request check: the same two commands a user runs locally,
#
#   opssc validate SPEC --format github
#   opssc plan --spec SPEC --state STATE --format markdown
#     (or, with no STATE and an agent configuration, against the live network:
#      opssc plan --spec SPEC --config OPSSC_AGENT_CONFIG --format markdown)
#   opssc approve --list HEAD     (which organizations consented, which not)
#
# plus the plumbing GitHub needs around them. Run it by hand from the root of a
# spec repository to see exactly what the pull request will show:
#
#   .github/actions/opssc-spec-check/check.sh network state/observed.json
#
# Arguments: SPEC (the spec directory) and STATE (a state snapshot written by
# `opssc state ...`; optional: without it and without OPSSC_AGENT_CONFIG the
# spec is validated only).
# Environment (all optional):
#   OPSSC                 the opssc binary (default: `opssc` on PATH)
#   OPSSC_ORG             plan the local changes of this MSP ID (default: the
#                         organization that observed the state)
#   OPSSC_PLAN_OUT        where to write the Markdown for the pull request
#                         comment (default: opssc-plan.md)
#   OPSSC_AGENT_CONFIG    an agent configuration file (opssc.yaml): with no
#                         STATE, the plan observes the live network as that
#                         organization (the runner must reach its peers and
#                         orderers); a STATE, when given, takes precedence
#   GITHUB_STEP_SUMMARY   set by GitHub Actions: the Markdown is appended to it
#
# Output: the validation annotations (`::error file=..,line=..::..`) on stdout,
# where GitHub turns them into annotations on the pull request's files; the
# plan (or why there is none) as Markdown in OPSSC_PLAN_OUT.
# Exit codes: 0 the spec is valid and was planned (with or without changes),
# 1 the spec is invalid or the plan failed, 2 a usage error.
set -uo pipefail

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
  echo "usage: $0 SPEC_DIR [STATE_FILE]" >&2
  exit 2
fi
spec=$1
state=${2:-}
opssc=${OPSSC:-opssc}
out=${OPSSC_PLAN_OUT:-opssc-plan.md}

summary() {
  if [ -n "${GITHUB_STEP_SUMMARY:-}" ]; then
    cat "$out" >>"$GITHUB_STEP_SUMMARY"
  fi
}

# A fenced block that survives a backtick fence inside the text.
fenced() {
  printf '\n````text\n'
  cat "$1"
  printf '````\n'
}

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

echo "==> opssc validate $spec --format github"
"$opssc" validate "$spec" --format github
validate_rc=$?
if [ "$validate_rc" -ne 0 ]; then
  # The same findings once more, as text, for the comment: annotations only
  # show on lines the pull request touched.
  "$opssc" validate "$spec" >"$scratch/validate.txt" 2>&1
  {
    printf '### opssc: the spec in `%s` is invalid\n\n' "$spec"
    printf 'Nothing was planned. Every problem is annotated on its file and line; the same list, as `opssc validate %s` prints it:\n' "$spec"
    fenced "$scratch/validate.txt"
  } >"$out"
  summary
  echo "error: the spec in $spec is invalid (exit $validate_rc); see the annotations above" >&2
  exit 1
fi

if [ -n "$state" ]; then
  against=(--state "$state")
  against_shown="--state $state"
elif [ -n "${OPSSC_AGENT_CONFIG:-}" ]; then
  # The live network, observed as the organization of this configuration.
  # Its path is a private temporary file: the comment names it only as such.
  against=(--config "$OPSSC_AGENT_CONFIG")
  against_shown="--config <agent-config>"
else
  {
    printf '### opssc: `%s` is valid\n\n' "$spec"
    printf 'No state snapshot and no agent configuration were given, so there is no plan. Pass `state:` (a file written by `opssc state ...`), or the `agent-config` secret to plan against the live network, to see the changes and who must approve them.\n'
  } >"$out"
  summary
  echo "warning: no state snapshot given; validated only" >&2
  exit 0
fi

org_args=()
if [ -n "${OPSSC_ORG:-}" ]; then
  org_args=(--org "$OPSSC_ORG")
fi
echo "==> opssc plan --spec $spec $against_shown ${org_args[*]} --format markdown"
"$opssc" plan --spec "$spec" "${against[@]}" "${org_args[@]}" --format markdown \
  >"$scratch/plan.md" 2>"$scratch/plan.err"
plan_rc=$?
cat "$scratch/plan.err" >&2
# Consent (docs/guide/consent.md): which organizations approved the tree this
# pull request lands, and which approvals are missing. Informational: a missing
# approval makes that organization's agent wait, it does not fail the check.
approvals() {
  local top rel
  top=$(git -C "$spec" rev-parse --show-toplevel 2>/dev/null) || return 0
  rel=$(realpath --relative-to="$top" "$spec")
  # Approvals live under refs/opssc/approvals/; checkouts do not fetch them.
  git -C "$top" fetch -q origin '+refs/opssc/approvals/*:refs/opssc/approvals/*' >/dev/null 2>&1 || true
  "$opssc" approve --list HEAD --repo "$top" --path "$rel" >"$scratch/approvals.txt" 2>&1
  case $? in
    0 | 2)
      printf '\n### Consent: approvals of this tree\n'
      fenced "$scratch/approvals.txt"
      ;;
    *)
      printf '\n### Consent: the approvals could not be listed\n'
      fenced "$scratch/approvals.txt"
      ;;
  esac
}

case "$plan_rc" in
  0 | 2)
    # 0: no changes, 2: changes. Both are a successful check.
    cp "$scratch/plan.md" "$out"
    approvals >>"$out"
    cat "$out"
    summary
    exit 0
    ;;
  *)
    {
      printf '### opssc: planning `%s` failed\n\n' "$spec"
      printf '`opssc plan --spec %s %s` exited with %s:\n' "$spec" "$against_shown" "$plan_rc"
      fenced "$scratch/plan.err"
    } >"$out"
    summary
    echo "error: opssc plan failed (exit $plan_rc)" >&2
    exit 1
    ;;
esac

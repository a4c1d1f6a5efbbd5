#!/usr/bin/env bash
# Lint every GitHub Actions workflow of the project with actionlint.
#
# actionlint is installed by this script from the Go module proxy, pinned, into
# ${XDG_CACHE_HOME:-~/.cache}/opssc/tools (outside the repository), the first
# time only. Checked: the project's workflows, the example spec repository's
# workflows, and the opssc-spec-check composite action (its YAML must parse and
# its scripts must be executable; actionlint itself checks workflows only).
#
# Usage: scripts/actionlint.sh [WORKFLOW_FILE...]   (default: all of the above)
# Exit codes: 0 clean, 1 findings, 2 actionlint could not be installed or run.
set -euo pipefail
cd "$(dirname "$0")/.."

version=v1.7.12
tools="${XDG_CACHE_HOME:-$HOME/.cache}/opssc/tools"
actionlint="$tools/actionlint"

installed_version() {
  "$actionlint" -version 2>/dev/null | head -n 1
}

if [ ! -x "$actionlint" ] || [ "$(installed_version)" != "$version" ]; then
  command -v go >/dev/null || {
    echo "error: Go is needed to install actionlint $version (https://go.dev/dl)" >&2
    exit 2
  }
  echo "installing actionlint $version into $tools" >&2
  mkdir -p "$tools"
  GOBIN="$tools" go install "github.com/rhysd/actionlint/cmd/actionlint@$version" || {
    echo "error: could not install actionlint $version from the Go module proxy (GOPROXY=$(go env GOPROXY))" >&2
    echo "  hint: it needs Go 1.25 or newer ($(go version)); with GOTOOLCHAIN=auto, go fetches that toolchain itself" >&2
    exit 2
  }
fi

shopt -s nullglob
if [ $# -gt 0 ]; then
  workflows=("$@")
else
  workflows=(.github/workflows/*.yml .github/workflows/*.yaml
    examples/spec-repo/.github/workflows/*.yml examples/spec-repo/.github/workflows/*.yaml)
fi
if [ "${#workflows[@]}" -eq 0 ]; then
  echo "error: no workflow found" >&2
  exit 2
fi

status=0
# -shellcheck= : shellcheck is not required (it is used when on PATH otherwise).
"$actionlint" -shellcheck= "${workflows[@]}" || status=1

# The reusable workflow runs the composite action from a second checkout of
# opssc (.opssc-check/), a path that exists only at run time. Lint it once more
# in a scratch tree laid out that way, so its `with:` keys are checked against
# the action's inputs.
if [ $# -eq 0 ] && [ -f .github/workflows/spec-check.yml ]; then
  scratch=$(mktemp -d)
  trap 'rm -rf "$scratch"' EXIT
  # (.git marks the project root for actionlint.)
  mkdir -p "$scratch/.git" "$scratch/.github/workflows" "$scratch/.opssc-check/.github"
  cp .github/workflows/spec-check.yml "$scratch/.github/workflows/"
  cp -R .github/actions "$scratch/.opssc-check/.github/"
  (cd "$scratch" && "$actionlint" -shellcheck= .github/workflows/spec-check.yml) || status=1
fi

# The composite action: actionlint validates how workflows call it (inputs,
# `with:` keys) when they use it by a local path; here, check that the scripts
# it runs exist and are executable.
for action in .github/actions/*/action.yml; do
  dir=$(dirname "$action")
  for script in $(grep -o '\$GITHUB_ACTION_PATH/[A-Za-z0-9_.-]*' "$action" | sort -u | sed 's/.*\///'); do
    if [ ! -x "$dir/$script" ]; then
      echo "$action: runs $script, which is missing or not executable in $dir" >&2
      status=1
    fi
  done
  # Each script must at least parse.
  for script in "$dir"/*.sh; do
    bash -n "$script" || status=1
  done
done

if [ "$status" -eq 0 ]; then
  echo "actionlint $version: ${#workflows[@]} workflows clean; composite actions checked"
fi
exit "$status"

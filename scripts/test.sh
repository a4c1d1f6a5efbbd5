#!/usr/bin/env bash
# The project's test command (README: "Run the tests"). CI runs exactly this.
#
# It needs only what a fresh machine of this project has (Rust via rustup, Go
# with the Go module proxy, Debian's apt); everything else is installed here or
# by the build itself: the Debian packages below when missing, Rust crates by
# cargo, Fabric's binaries by the devnet on first use, into
# ${XDG_CACHE_HOME:-~/.cache}/opssc (outside the repository).
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "toolchain"
cargo --version
go version || { echo "error: Go is required to build Fabric for the devnet tests (https://go.dev/dl)"; exit 2; }

step "system packages (installed only when missing)"
# openssh-server: reconciler/tests/git_transport.rs and agent_chaincode.rs
# run a real sshd on a loopback port. git: the tests' git http-backend and fsck. (git2's OpenSSL
# is built from source by cargo: no system headers needed.)
missing=()
[ -x /usr/sbin/sshd ] || missing+=(openssh-server)
command -v git >/dev/null 2>&1 || missing+=(git)
if [ ${#missing[@]} -gt 0 ]; then
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "error: install ${missing[*]} (or your system's equivalents); the build and the git transport tests need them"
    exit 2
  fi
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  echo "installing ${missing[*]}"
  $sudo apt-get update
  $sudo apt-get install -y "${missing[@]}"
fi

step "formatting (cargo fmt --check)"
cargo fmt --all -- --check

step "lints (cargo clippy -D warnings)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "one TLS provider: aws-lc-rs must not be in the tree"
if cargo tree --workspace --locked -e normal -i aws-lc-rs >/dev/null 2>&1; then
  echo "error: aws-lc-rs is a dependency; rustls must use ring only (see README, design notes)"
  cargo tree --workspace -e normal -i aws-lc-rs | head -20
  exit 1
fi

step "tests (unit, property, and end-to-end on a real Fabric devnet)"
# One test binary at a time: each end-to-end binary starts its own devnet and
# the machine has two cores. --no-fail-fast: one failing binary does not hide
# the results of the others.
cargo test --workspace --locked --no-fail-fast -- --test-threads=2

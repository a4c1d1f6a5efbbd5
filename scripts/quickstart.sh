#!/usr/bin/env bash
# The main job (README: "Quick start"): from a fresh clone to a running Fabric
# network for the reference consortium in network-spec/.
#
# 1. builds the opssc and opssc-chaincode binaries (cargo fetches the crates);
# 2. validates network-spec/;
# 3. `opssc dev up`: builds Fabric from its Go module on first use (cached in
#    ${XDG_CACHE_HOME:-~/.cache}/opssc, outside the repository), generates the
#    organizations' crypto material, starts the orderer and one peer per
#    organization on free 127.0.0.1 ports, joins them to their channels,
#    writes the devnet's own spec repository (each organization's certificates
#    and admin SSH key committed) and deploys the OpsSC chaincode on the ops
#    channel (each organization installs and approves it, one commits);
# 4. prints the status and what to try next.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

command -v cargo >/dev/null || { echo "error: cargo not found: install Rust with rustup (https://rustup.rs)"; exit 2; }
command -v go >/dev/null || { echo "error: go not found: Fabric is built from its Go module; install Go (https://go.dev/dl)"; exit 2; }

step "building opssc"
cargo build --locked -p opssc -p opssc-chaincode
opssc=./target/debug/opssc

step "validating network-spec/"
"$opssc" validate network-spec

if [ -f .opssc-dev/devnet.json ]; then
  step "a devnet is already recorded in .opssc-dev/ — its status:"
  "$opssc" dev status || true
  echo
  echo "To start afresh: $opssc dev down && $0"
  exit 0
fi

step "starting the devnet for network-spec/ and founding the OpsSC (the first run builds Fabric: a few minutes)"
"$opssc" dev up --spec network-spec

step "status"
"$opssc" dev status

cat <<TXT

The network is running. Next:
  $opssc dev status          # processes, ports, channels and heights
  $opssc validate examples/add-org   # the spec of the add-an-organization scenario
  $opssc dev down            # stop exactly the processes opssc started
Each organization's agent configuration is in .opssc-dev/orgs/<MSP>/opssc.yaml.
TXT

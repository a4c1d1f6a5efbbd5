#!/usr/bin/env bash
# The main job (README: "Quick start"): from a fresh clone to a running Fabric
# network for the reference consortium in network-spec/.
#
# 1. builds the opssc and opssc-chaincode binaries (cargo fetches the crates);
# 2. validates network-spec/;
# 3. `opssc dev up`: builds Fabric from its Go module on first use (cached in
#    ${XDG_CACHE_HOME:-~/.cache}/opssc, outside the repository), generates the
#    organizations' crypto material, starts the orderer and one peer per
#    organization on free 127.0.0.1 ports, writes the devnet's own spec
#    repository (each organization's certificates and admin SSH key
#    committed), starts each organization's OpsSC server and demo
#    chaincode-as-a-service server, then founds the consortium as each
#    organization's `opssc found` does: the channels created from the spec,
#    the OpsSC installed and approved by every organization, committed by one,
#    and its registry founded with the spec's members and governance;
# 4. starts one `opssc agent` per peer organization (detached; PIDs in
#    .opssc-dev/agents.pids): they verify the spec repository's signed
#    commits, propose, vote, install, approve and commit what network-spec/
#    declares, and the script shows the first organization's status as it
#    changes (`opssc status --watch --until-ready`) until every
#    organization reports Ready;
# 5. prints what to try next.
#
# `--fabric 3.1` (or OPSSC_FABRIC=3.1) runs Fabric v3.1.5 instead of the
# spec's version: built once from its source (the archive OPSSC_FABRIC_SOURCE
# names, else ../shared/fabric/fabric-3.1.5-src.tar.gz, else a clone of tag
# v3.1.5), its checksum or commit checked against the pin.
set -euo pipefail
cd "$(dirname "$0")/.."

fabric="${OPSSC_FABRIC:-}"
if [ "${1:-}" = --fabric ]; then
  fabric="${2:-}"
  [ -n "$fabric" ] || { echo "error: --fabric needs a version: 2.5 or 3.1"; exit 2; }
  shift 2
fi
case "$fabric" in
  ""|2.5|3.1) ;;
  *) echo "error: unsupported Fabric version \"$fabric\": use 2.5 or 3.1"; exit 2 ;;
esac

# The binaries cargo builds (CARGO_TARGET_DIR when set, like cargo itself).
bin_dir="${CARGO_TARGET_DIR:-./target}/debug"

# `quickstart.sh down`: stop the agents this script started (by the PIDs it
# recorded; `opssc dev demo add-org` appends its new organization's agent),
# then the devnet (by the PIDs the devnet recorded).
if [ "${1:-}" = down ]; then
  if [ -f .opssc-dev/agents.pids ]; then
    while read -r pid; do
      [ -n "$pid" ] && kill "$pid" 2>/dev/null && echo "stopped agent (pid $pid)"
    done < .opssc-dev/agents.pids
    rm -f .opssc-dev/agents.pids
  fi
  # Stopping must work even when the binary is gone (`cargo clean`, or a
  # CARGO_TARGET_DIR other than the one the network was started with).
  if [ ! -x "$bin_dir/opssc" ]; then
    echo "$bin_dir/opssc is missing: building it to stop the devnet"
    cargo build --locked -p opssc --bin opssc
  fi
  exec "$bin_dir/opssc" dev down
fi

step() { printf '\n==> %s\n' "$*"; }

command -v cargo >/dev/null || { echo "error: cargo not found: install Rust with rustup (https://rustup.rs)"; exit 2; }
command -v go >/dev/null || { echo "error: go not found: Fabric is built from its Go module; install Go (https://go.dev/dl)"; exit 2; }

step "building opssc"
cargo build --locked -p opssc -p opssc-chaincode -p opssc-tests --bin opssc --bin opssc-chaincode --bin kvcc
opssc="$bin_dir/opssc"

step "validating network-spec/"
"$opssc" validate network-spec

if [ -f .opssc-dev/devnet.json ]; then
  step "a devnet is already recorded in .opssc-dev/ — its status:"
  "$opssc" dev status || true
  echo
  echo "To start afresh: $0 down && $0"
  exit 0
fi

step "starting the devnet for network-spec/${fabric:+ on Fabric $fabric} and founding the OpsSC (the first run builds Fabric: a few minutes)"
"$opssc" dev up --spec network-spec ${fabric:+--fabric "$fabric"}

step "starting one agent per peer organization"
: > .opssc-dev/agents.pids
configs=()
for config in .opssc-dev/orgs/*/opssc.yaml; do
  msp=$(basename "$(dirname "$config")")
  # The orderer organization runs no peers: nothing for a chaincode agent to do.
  [ "$msp" = OrdererMSP ] && continue
  setsid nohup "$opssc" agent --config "$config" > ".opssc-dev/logs/agent-$msp.log" 2>&1 < /dev/null &
  echo $! >> .opssc-dev/agents.pids
  configs+=("$config")
  echo "  $msp: opssc agent pid $! (log .opssc-dev/logs/agent-$msp.log)"
done

first=$(basename "$(dirname "${configs[0]}")")
step "waiting for the agents to converge on network-spec/ (proposals, votes, install, approve, commit); $first's status as it changes:"
# `opssc status --watch --until-ready` prints the status whenever it changes
# and exits 0 once the organization is Ready (1 at the timeout).
deadline=$((SECONDS + 300))
for config in "${configs[@]}"; do
  msp=$(basename "$(dirname "$config")")
  left=$((deadline - SECONDS)); [ "$left" -ge 1 ] || left=1
  rc=0
  if [ "$config" = "${configs[0]}" ]; then
    "$opssc" status --config "$config" --watch --until-ready --timeout "$left" || rc=$?
  else
    "$opssc" status --config "$config" --watch --until-ready --timeout "$left" > /dev/null || rc=$?
  fi
  if [ "$rc" -ne 0 ]; then
    if [ "$rc" -eq 1 ]; then
      echo "$msp is not Ready after 300 s; the agents keep going. Look at:"
    else
      echo "opssc status failed for $msp (exit $rc, the error is above). Look at:"
    fi
    echo "  $opssc status --config $config --watch"
    echo "  .opssc-dev/logs/agent-*.log"
    exit 1
  fi
  echo "  $msp Ready (${SECONDS}s)"
done

cat <<TXT

The network is running and every organization's agent reports Ready. Next:
  $opssc dev demo chaincode              # Org1's admin commits a signed kv upgrade, the other admins approve it; watch all orgs converge
  $opssc dev demo add-org                # Org4 starts next to the network and joins it by signed commits the members approve
  $opssc status --config ${configs[0]} --watch   # proposals, votes, tasks, conditions, live (Ctrl-C ends)
  $opssc dev status                      # processes, ports, channels and heights
  $opssc plan --spec network-spec --state examples/spec-repo/state/observed.json   # a plan
  ./scripts/quickstart.sh down           # stop the agents, then the devnet
Each organization's agent configuration is in .opssc-dev/orgs/<MSP>/opssc.yaml;
the devnet's spec repository (each organization's certificates and admin key
committed) is .opssc-dev/spec-repo: commit a change signed with an admin key
(.opssc-dev/orgs/<MSP>/admin_ssh_key); each other organization's agent
votes for it once that organization's admin approved it
("$opssc approve COMMIT --key .opssc-dev/orgs/<MSP>/admin_ssh_key" in the
spec repository; the demos do this on the other organizations' behalf and
say so), or once an autoApprove rule in its own opssc.yaml covers it.
TXT

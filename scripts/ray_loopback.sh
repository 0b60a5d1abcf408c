#!/usr/bin/env bash
# A two-node Ray cluster on loopback only, for tests and benchmarks: run it inside a private network namespace
# (as root), where Ray cannot bind the machine's own address:
#   unshare -n -p -f --mount-proc scripts/ray_loopback.sh TEMP_DIR PORT CPUS_PER_NODE COMMAND...
# It brings loopback up, starts a head and a second node (each its own processes, RAY_USAGE_STATS_ENABLED=0,
# temporary files and logs in TEMP_DIR), runs COMMAND with RAY_ADDRESS=127.0.0.1:PORT, stops the cluster
# whatever happens, and exits with COMMAND's status.
set -euo pipefail
tmp=$1 port=$2 cpus=$3
shift 3
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ray=${RAY:-$root/.venv/bin/ray}
export RAY_USAGE_STATS_ENABLED=0 RAY_ADDRESS=127.0.0.1:$port
ip link set lo up
mkdir -p "$tmp"
trap '"$ray" stop --force >/dev/null 2>&1 || true' EXIT
"$ray" start --head --node-ip-address=127.0.0.1 --port="$port" --num-cpus="$cpus" --include-dashboard=false \
  --temp-dir="$tmp" --disable-usage-stats >"$tmp/head.log" 2>&1
"$ray" start --address="127.0.0.1:$port" --node-ip-address=127.0.0.1 --num-cpus="$cpus" \
  --disable-usage-stats >"$tmp/node.log" 2>&1
"$@"

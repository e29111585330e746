#!/usr/bin/env bash
# Starts wrp-sim (4 backends on 9001-9004) and N wrpd nodes (default 3) joined into one cluster,
# in the background. Stop with cluster/stop.sh.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
N=${1:-3}
start_sim
for i in $(seq 1 "$N"); do start_node "$i"; done
for i in $(seq 1 "$N"); do wait_ready "$i"; done
"$BIN/wrpctl" members --node "http://127.0.0.1:$(http_port 1)"

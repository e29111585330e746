#!/usr/bin/env bash
# Restarts node I under the same id and data dir; it rejoins with a higher incarnation.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
i=${1:?usage: cluster/restart-node.sh I}
pid=$(pid_of "n$i" || true)
if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill -TERM "$pid"; sleep 1; fi
start_node "$i"
wait_ready "$i"

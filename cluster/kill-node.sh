#!/usr/bin/env bash
# Kills node I with SIGKILL (no leave): peers must detect it (suspect, then dead).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
i=${1:?usage: cluster/kill-node.sh I}
pid=$(pid_of "n$i")
kill -9 "$pid" && echo "killed n$i (pid $pid)"

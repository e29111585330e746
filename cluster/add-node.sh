#!/usr/bin/env bash
# Adds node I (e.g. 4) to the running local cluster: it joins through the seed nodes.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
i=${1:?usage: cluster/add-node.sh I}
start_node "$i"
wait_ready "$i"

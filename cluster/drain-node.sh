#!/usr/bin/env bash
# Drains node I: it stops taking requests, leaves the cluster (peers see `left`), finishes
# in-flight requests and exits.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
i=${1:?usage: cluster/drain-node.sh I}
curl -fsS -X POST "http://127.0.0.1:$(http_port "$i")/admin/drain" && echo

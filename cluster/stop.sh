#!/usr/bin/env bash
# Stops every local node (SIGTERM: graceful leave) and wrp-sim.
. "$(dirname "$0")/lib.sh"
for f in "$RUN"/n*.pid "$RUN"/sim.pid; do
  [ -f "$f" ] || continue
  kill -TERM "$(cat "$f")" 2>/dev/null || true
  rm -f "$f"
done
echo "stopped"

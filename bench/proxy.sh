#!/usr/bin/env bash
# Proxy overhead benchmark: the same wrk load against wrp-sim directly (baseline), through wrpd,
# and through sglang-router when it is installed, side by side in one run, plus /v1/route
# decisions per second. The CPU column is the router process's user+system time per request.
#   bench/proxy.sh [DURATION_S] [CONNECTIONS]
# Needs a release build (make build). wrp-sim runs with --time-scale 0 so backend "work" is
# ~zero and the difference is what wrpd adds. Load is 1 wrk thread: the machine has 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
DUR=${1:-10}
CONN=${2:-32}
HALF=${HALF_CONN:-4}
BIN=${BIN:-.build/release}
SIM_PORT=${SIM_PORT:-19001}
WRPD_PORT=${WRPD_PORT:-18080}
OUT=${OUT:-bench/results}
mkdir -p "$OUT"
tmp=$(mktemp -d)
cleanup() { kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT

"$BIN/wrp-sim" --backends 4 --base-port "$SIM_PORT" --time-scale 0 --log-level error &
cat > "$tmp/wrpd.yaml" <<YAML
node: {id: bench, http: "127.0.0.1:$WRPD_PORT", data_dir: "$tmp/data"}
logging: {level: error}
health: {interval_ms: 1000}
pools:
  - name: default
    models: [sim-llama-8b]
    policy: least_loaded
    backends:
      - {id: sim-0, url: "http://127.0.0.1:$SIM_PORT"}
      - {id: sim-1, url: "http://127.0.0.1:$((SIM_PORT+1))"}
      - {id: sim-2, url: "http://127.0.0.1:$((SIM_PORT+2))"}
      - {id: sim-3, url: "http://127.0.0.1:$((SIM_PORT+3))"}
YAML
"$BIN/wrpd" --config "$tmp/wrpd.yaml" &
WRPD_PID=$!
for _ in $(seq 1 100); do curl -fsS -o /dev/null "http://127.0.0.1:$WRPD_PORT/readyz" 2>/dev/null && break; sleep 0.1; done

# A peer router side by side, when installed (pip install sglang-router): same backends, same load.
PEER_PORT=${PEER_PORT:-18090}
PEER=""
if [ -z "${NO_PEER:-}" ] && python3 -c "import sglang_router" 2>/dev/null; then
  python3 -m sglang_router.launch_router --host 127.0.0.1 --port "$PEER_PORT" --policy round_robin --log-level error \
    --worker-urls "http://127.0.0.1:$SIM_PORT" "http://127.0.0.1:$((SIM_PORT+1))" "http://127.0.0.1:$((SIM_PORT+2))" "http://127.0.0.1:$((SIM_PORT+3))" \
    > "$tmp/peer.log" 2>&1 &
  PEER_PID=$!
  for _ in $(seq 1 100); do curl -fsS -o /dev/null "http://127.0.0.1:$PEER_PORT/health" 2>/dev/null && { PEER=sglang-router; break; }; sleep 0.2; done
fi

cpu_ticks() { awk '{print $14+$15}' "/proc/${CPU_PID:-$WRPD_PID}/stat"; }
run() { # name url script connections
  local f t0 t1 reqs cpu_us
  f=$(echo "$1" | tr -c 'A-Za-z0-9\n' '_')
  t0=$(cpu_ticks)
  wrk -t1 -c"$4" -d"${DUR}s" --latency -s "$3" "$2" > "$tmp/$f.txt" 2>&1
  t1=$(cpu_ticks)
  local rps p50 p99
  rps=$(awk '/Requests\/sec/ {print $2}' "$tmp/$f.txt")
  p50=$(awk '$1=="50%" {print $2}' "$tmp/$f.txt")
  p99=$(awk '$1=="99%" {print $2}' "$tmp/$f.txt")
  reqs=$(awk '/requests in/ {print $1}' "$tmp/$f.txt")
  cpu_us=$(awk -v a="$t0" -v b="$t1" -v n="$reqs" -v hz="$(getconf CLK_TCK)" 'BEGIN { if (n > 0) printf "%.1f", (b - a) / hz * 1e6 / n; else print "-" }')
  printf "| %-34s | %5s | %10s | %9s | %9s | %14s |\n" "$1" "$4" "$rps" "$p50" "$p99" "$cpu_us"
  cp "$tmp/$f.txt" "$OUT/$f.txt"
}
echo "wrk -t1, ${DUR}s per row; wrp-sim --time-scale 0; $(nproc) cores"
echo
echo "| target                             | conns | requests/s | p50       | p99       | router CPU µs/req |"
echo "|------------------------------------|-------|------------|-----------|-----------|----------------|"
run "wrp-sim direct (baseline)" "http://127.0.0.1:$SIM_PORT/v1/chat/completions" bench/chat.lua "$CONN"
run "wrpd proxy -> wrp-sim" "http://127.0.0.1:$WRPD_PORT/v1/chat/completions" bench/chat.lua "$CONN"
run "wrp-sim direct, light load" "http://127.0.0.1:$SIM_PORT/v1/chat/completions" bench/chat.lua "$HALF"
run "wrpd proxy, light load" "http://127.0.0.1:$WRPD_PORT/v1/chat/completions" bench/chat.lua "$HALF"
run "wrpd /v1/route (8 KiB prompt)" "http://127.0.0.1:$WRPD_PORT" bench/route.lua "$CONN"
if [ -n "$PEER" ]; then
  CPU_PID=$PEER_PID run "$PEER proxy -> wrp-sim" "http://127.0.0.1:$PEER_PORT/v1/chat/completions" bench/chat.lua "$CONN"
  CPU_PID=$PEER_PID run "$PEER proxy, light load" "http://127.0.0.1:$PEER_PORT/v1/chat/completions" bench/chat.lua "$HALF"
else
  echo "(no peer row: pip install sglang-router to compare side by side)"
fi

#!/usr/bin/env bash
# Proxy overhead benchmark: the same wrk load against wrp-sim directly (baseline) and through
# wrpd, side by side in one run, plus /v1/route decisions per second.
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

cpu_ticks() { awk '{print $14+$15}' "/proc/$WRPD_PID/stat"; }
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
echo "| target                             | conns | requests/s | p50       | p99       | wrpd CPU µs/req |"
echo "|------------------------------------|-------|------------|-----------|-----------|----------------|"
run "wrp-sim direct (baseline)" "http://127.0.0.1:$SIM_PORT/v1/chat/completions" bench/chat.lua "$CONN"
run "wrpd proxy -> wrp-sim" "http://127.0.0.1:$WRPD_PORT/v1/chat/completions" bench/chat.lua "$CONN"
run "wrp-sim direct, light load" "http://127.0.0.1:$SIM_PORT/v1/chat/completions" bench/chat.lua "$HALF"
run "wrpd proxy, light load" "http://127.0.0.1:$WRPD_PORT/v1/chat/completions" bench/chat.lua "$HALF"
run "wrpd /v1/route (8 KiB prompt)" "http://127.0.0.1:$WRPD_PORT" bench/route.lua "$CONN"

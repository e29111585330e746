#!/usr/bin/env bash
# Live replay (issue 3 item 6): a bounded, time-compressed slice of the Mooncake conversation trace
# replayed over HTTP (streaming chat completions) through a release wrpd against wrp-sim, per
# policy, next to wrp-replay (the virtual-time simulator) on the same slice with the same fleet.
#   bench/live-replay.sh [LIMIT] [SPEEDUP]
# Defaults: the first 1,500 requests (510 s of trace) at 5× speed (~2 min per policy).
# Needs release builds of wrpd, wrp-sim and wrp-replay in $BIN (default .build/release; e.g.
# `swift build -c release --scratch-path .build-lr` then BIN=.build-lr/release).
# Loopback only; every process it starts is stopped on exit; each run stops after MAX_WALL_S.
#
# Fleet (wrp-replay's defaults, scaled to wrp-sim's 64-token blocks and compressed time):
#   8 backends; 1.5M cache tokens each = 23,437 blocks of 64 tokens; prefill 12k tok/s;
#   decode 30 ms/token; 64 running; TTFT SLO 5 s. wrp-sim --time-scale 1/SPEEDUP, so wall time ×
#   SPEEDUP is trace time. Router params scaled the same way: a trace block (512 tokens) is 8
#   router blocks (256 bytes ≈ 64 tokens), so prefix_blocks 2 → 16, max_key_blocks 16 → 128,
#   index_blocks 23,437 → 187,500; slo_ttft_ms and hot_window_ms ÷ SPEEDUP,
#   prefill_tokens_per_s × SPEEDUP.
set -euo pipefail
cd "$(dirname "$0")/.."
LIMIT=${1:-1500}
SPEEDUP=${2:-5}
POLICIES=${POLICIES:-"dualmap round_robin"}
BIN=${BIN:-.build/release}
TRACE=${TRACE:-../shared/traces/mooncake_conversation_trace.jsonl}
BACKENDS=${BACKENDS:-8}
CACHE_TOKENS=${CACHE_TOKENS:-1500000}
PREFILL=${PREFILL:-12000}
DECODE_MS=${DECODE_MS:-30}
MAX_RUNNING=${MAX_RUNNING:-64}
SLO_MS=${SLO_MS:-5000}
MAX_INPUT_TOKENS=${MAX_INPUT_TOKENS:-0}    # 0 = prompts as in the trace
MAX_OUTPUT_TOKENS=${MAX_OUTPUT_TOKENS:-0}  # 0 = outputs as in the trace
MAX_WALL_S=${MAX_WALL_S:-600}
OUT=${OUT:-bench/results/live-replay}
BLOCK_BYTES=256
ROUTER_BLOCKS_PER_TRACE_BLOCK=$((512 * 4 / BLOCK_BYTES))

for b in wrpd wrp-sim wrp-replay; do
  [ -x "$BIN/$b" ] || { echo "missing $BIN/$b: build release first (see the header of $0)" >&2; exit 2; }
done
[ -r "$TRACE" ] || { echo "cannot read trace $TRACE" >&2; exit 2; }
mkdir -p "$OUT"
tmp=$(mktemp -d)
PIDS=()
stop_all() {
  for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]:-}"; do [ -n "$p" ] && wait "$p" 2>/dev/null || true; done
  PIDS=()
}
cleanup() { stop_all; rm -rf "$tmp"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

calc() { python3 -c "print($1)"; }
TIME_SCALE=$(calc "1 / $SPEEDUP")
# A hair under 1000/DECODE_MS so wrp-sim's whole-millisecond timers do not round 30/SPEEDUP ms down.
DECODE_TPS=$(calc "1000 / $DECODE_MS * (1 - 1e-6)")
CACHE_BLOCKS=$((CACHE_TOKENS * 4 / BLOCK_BYTES))
PREFIX_BLOCKS=$((2 * ROUTER_BLOCKS_PER_TRACE_BLOCK))
MAX_KEY_BLOCKS=$((16 * ROUTER_BLOCKS_PER_TRACE_BLOCK))
INDEX_BLOCKS=$((BACKENDS * CACHE_TOKENS / 512 * ROUTER_BLOCKS_PER_TRACE_BLOCK))
SLO_WALL=$(calc "$SLO_MS / $SPEEDUP")
HOT_WINDOW_WALL=$(calc "10000 / $SPEEDUP")
PREFILL_WALL=$(calc "$PREFILL * $SPEEDUP")
TOKEN_MS_WALL=$(calc "int($DECODE_MS / $SPEEDUP * (1 + 1e-6))")
[ "$(calc "abs($TOKEN_MS_WALL * $SPEEDUP - $DECODE_MS) < 1e-6")" = True ] ||
  echo "note: wrp-sim's ms timers make decode $(calc "$TOKEN_MS_WALL * $SPEEDUP") ms/token at this speedup (not $DECODE_MS)" >&2

SLICE="$OUT/slice.jsonl"
python3 bench/live_replay.py slice --trace "$TRACE" --limit "$LIMIT" --max-input-tokens "$MAX_INPUT_TOKENS" \
  --max-output-tokens "$MAX_OUTPUT_TOKENS" --out "$SLICE" > "$OUT/slice.json"
echo "slice: $(cat "$OUT/slice.json")"
echo "fleet: $BACKENDS backends × $CACHE_TOKENS cache tokens ($CACHE_BLOCKS blocks of $((BLOCK_BYTES / 4)) tokens), prefill $PREFILL tok/s, decode $DECODE_MS ms/token, max running $MAX_RUNNING, SLO $SLO_MS ms; speedup ×$SPEEDUP"

wait_for() { # seconds command...
  local n=$(( $1 * 10 )); shift
  for _ in $(seq 1 "$n"); do "$@" && return 0; sleep 0.1; done
  return 1
}
lines_at_least() { [ -f "$1" ] && [ "$(wc -l < "$1")" -ge "$2" ]; }
port_of() { sed -n "s/^$2=.*:\([0-9]*\)$/\1/p" "$1" 2>/dev/null; }

files=()
for P in $POLICIES; do
  run="$tmp/$P"
  mkdir -p "$run/data"
  "$BIN/wrp-sim" --backends "$BACKENDS" --base-port 0 --ports-file "$run/sim-ports" --cache-blocks "$CACHE_BLOCKS" \
    --prefill-tokens-per-s "$PREFILL" --decode-tokens-per-s "$DECODE_TPS" --max-running "$MAX_RUNNING" \
    --time-scale "$TIME_SCALE" --block-bytes "$BLOCK_BYTES" --log-level error 2> "$run/sim.log" &
  PIDS+=($!)
  wait_for 10 lines_at_least "$run/sim-ports" "$BACKENDS" || { echo "wrp-sim did not start" >&2; cat "$run/sim.log" >&2; exit 1; }
  {
    echo "node: {id: live-replay, http: \"127.0.0.1:0\", data_dir: \"$run/data\"}"
    echo "upstream: {connect_timeout_ms: 1000, first_byte_timeout_ms: 120000, total_timeout_ms: 600000}"
    echo "health: {interval_ms: 1000}"
    echo "logging: {level: warning}"
    echo "routing: {block_bytes: $BLOCK_BYTES, seed: 1}"
    echo "pools:"
    echo "  - name: default"
    echo "    models: [sim-llama-8b]"
    echo "    policy: {name: $P, prefix_blocks: $PREFIX_BLOCKS, max_key_blocks: $MAX_KEY_BLOCKS, index_blocks: $INDEX_BLOCKS, slo_ttft_ms: $SLO_WALL, prefill_tokens_per_s: $PREFILL_WALL, hot_window_ms: $HOT_WINDOW_WALL}"
    echo "    backends:"
    for i in $(seq 0 $((BACKENDS - 1))); do
      echo "      - {id: sim-$i, url: \"http://127.0.0.1:$(port_of "$run/sim-ports" "sim-$i")\"}"
    done
  } > "$run/wrpd.yaml"
  "$BIN/wrpd" --config "$run/wrpd.yaml" 2> "$run/wrpd.log" &
  PIDS+=($!)
  wait_for 10 test -s "$run/data/ports" || { echo "wrpd did not start" >&2; cat "$run/wrpd.log" >&2; exit 1; }
  WRPD_PORT=$(port_of "$run/data/ports" http)
  wait_for 10 curl -fsS -o /dev/null "http://127.0.0.1:$WRPD_PORT/readyz" || { echo "wrpd not ready" >&2; exit 1; }
  echo "== $P: live replay through wrpd :$WRPD_PORT"
  python3 bench/live_replay.py run --trace "$SLICE" --port "$WRPD_PORT" --policy "$P" --backends "$BACKENDS" \
    --speedup "$SPEEDUP" --slo-ttft-ms "$SLO_MS" --max-wall-s "$MAX_WALL_S" --out "$OUT/live-$P.json" || echo "(live run reported errors)"
  cp "$run/wrpd.yaml" "$OUT/wrpd-$P.yaml"
  stop_all
  echo "== $P: wrp-replay on the same slice"
  "$BIN/wrp-replay" --trace "$SLICE" --policy "$P" --backends "$BACKENDS" --cache-tokens "$CACHE_TOKENS" \
    --prefill-tokens-per-s "$PREFILL" --decode-ms-per-token "$DECODE_MS" --max-running "$MAX_RUNNING" \
    --slo-ttft-ms "$SLO_MS" --json | tee "$OUT/sim-$P.json"
  files+=("$OUT/live-$P.json" "$OUT/sim-$P.json")
done
echo
echo "first $LIMIT requests of $(basename "$TRACE"), speedup ×$SPEEDUP (TTFTs in trace ms)"
python3 bench/live_replay.py report "${files[@]}"

# Shared by the cluster/ scripts: node i (1-based) listens on HTTP 8079+i and gossip 7945+i on
# 127.0.0.1, keeps its data in data/local/n<i>, and its pid in data/local/n<i>.pid.
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=${BIN:-$ROOT/.build/release}
CONFIG=${CONFIG:-$ROOT/cluster/local/wrpd.yaml}
RUN=${RUN:-$ROOT/data/local}
HTTP_BASE=${HTTP_BASE:-8080}
GOSSIP_BASE=${GOSSIP_BASE:-7946}
SEEDS=${SEEDS:-3}
mkdir -p "$RUN"

http_port() { echo $((HTTP_BASE + $1 - 1)); }
gossip_port() { echo $((GOSSIP_BASE + $1 - 1)); }

# Seeds: the first $SEEDS nodes' gossip addresses, except the node itself.
join_list() {
  local self=$1 out="" i
  for i in $(seq 1 "$SEEDS"); do
    [ "$i" = "$self" ] && continue
    out="${out:+$out,}127.0.0.1:$(gossip_port "$i")"
  done
  echo "$out"
}

start_sim() {
  "$BIN/wrp-sim" --backends 4 --base-port 9001 --models sim-llama-8b,sim-qwen-7b --time-scale "${TIME_SCALE:-0.1}" --log-level warning \
    > "$RUN/sim.log" 2>&1 &
  echo $! > "$RUN/sim.pid"
}

start_node() {
  local i=$1 join
  join=$(join_list "$i")
  "$BIN/wrpd" --config "$CONFIG" --node-id "n$i" --http "127.0.0.1:$(http_port "$i")" \
    --gossip "127.0.0.1:$(gossip_port "$i")" ${join:+--join "$join"} --data-dir "$RUN/n$i" \
    >> "$RUN/n$i.log" 2>&1 &
  echo $! > "$RUN/n$i.pid"
  echo "n$i: http://127.0.0.1:$(http_port "$i") gossip 127.0.0.1:$(gossip_port "$i") (pid $!, log $RUN/n$i.log)"
}

wait_ready() {
  local i=$1 _
  for _ in $(seq 1 100); do
    curl -fsS -o /dev/null "http://127.0.0.1:$(http_port "$i")/readyz" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "n$i is not ready after 10 s (see $RUN/n$i.log)" >&2
  return 1
}

pid_of() { cat "$RUN/$1.pid" 2>/dev/null; }

#!/usr/bin/env python3
"""Live replay of a Mooncake trace over HTTP through wrpd (Python 3 standard library only).

Subcommands:
  slice   write the bounded, capped slice of a trace that both replays use (live and wrp-replay)
  run     replay a slice through wrpd (streaming chat completions) and print the figures as JSON
  report  print live and wrp-replay results side by side as a Markdown table

Prompt text is synthesized from each request's hash_ids: every hash_id expands to a fixed
2048-byte pseudo-random ASCII chunk (512 tokens x 4 bytes), so equal hash_id prefixes give equal
text prefixes. A request's content is its chunks, cut so that the canonical chat text wrpd and
wrp-sim hash ("user" 0x1F content 0x1E) is exactly 4 x input_length bytes, i.e. input_length
estimated tokens. max_tokens = output_length. Caps applied by `slice` go into the slice file, so
wrp-replay replays exactly the same requests.

Time compression: arrivals are divided by --speedup and wrp-sim runs with --time-scale
1/speedup, so wall-clock TTFTs times the speedup are the trace's (virtual) milliseconds.
"""
import argparse
import http.client
import json
import math
import random
import sys
import threading
import time

CHUNK_BYTES = 2048          # one trace block: 512 tokens x 4 bytes
ROLE_OVERHEAD = 6           # "user" + 0x1F + 0x1E in the canonical chat text
ALPHABET = (b"abcdefghijklmnopqrstuvwxyz      ")  # 32 symbols, no JSON escapes
TABLE = bytes(ALPHABET[b % 32] for b in range(256))


def load_trace(path, limit):
    out = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            out.append(json.loads(line))
            if limit and len(out) >= limit:
                break
    return out


def cmd_slice(a):
    reqs = load_trace(a.trace, a.limit)
    capped_in = capped_out = 0
    with open(a.out, "w") as f:
        for r in reqs:
            inp, out, ids = int(r["input_length"]), int(r["output_length"]), list(r.get("hash_ids", []))
            if a.max_input_tokens and inp > a.max_input_tokens:
                inp = a.max_input_tokens
                ids = ids[: (inp + 511) // 512]
                capped_in += 1
            if a.max_output_tokens and out > a.max_output_tokens:
                out = a.max_output_tokens
                capped_out += 1
            # wrp-sim answers at least one token; keep the slice consistent with that.
            out = max(1, out)
            f.write(json.dumps({"timestamp": r["timestamp"], "input_length": inp, "output_length": out,
                                "hash_ids": ids}) + "\n")
    span = (reqs[-1]["timestamp"] - reqs[0]["timestamp"]) / 1000 if reqs else 0
    print(json.dumps({"requests": len(reqs), "span_s": span, "capped_input": capped_in,
                      "capped_output": capped_out,
                      "mean_input": sum(int(r["input_length"]) for r in reqs) / max(1, len(reqs))}))


class Chunks:
    """hash_id -> its fixed 2048-byte text chunk (deterministic; cached)."""

    def __init__(self, seed):
        self.seed = seed
        self.cache = {}

    def get(self, h):
        c = self.cache.get(h)
        if c is None:
            c = random.Random((self.seed << 40) ^ int(h)).randbytes(CHUNK_BYTES).translate(TABLE)
            self.cache[h] = c
        return c


def build_body(r, idx, chunks, model):
    content_len = max(1, 4 * int(r["input_length"]) - ROLE_OVERHEAD)
    parts = [chunks.get(h) for h in r["hash_ids"]]
    text = b"".join(parts)
    if len(text) < content_len:
        # More tokens than blocks (not in this trace): pad with request-unique text.
        text += random.Random(0xABCDEF ^ idx).randbytes(content_len - len(text)).translate(TABLE)
    text = text[:content_len]
    body = (b'{"model":"' + model.encode() + b'","stream":true,"max_tokens":' + str(int(r["output_length"])).encode()
            + b',"messages":[{"role":"user","content":"' + text + b'"}]}')
    return body


def pct(sorted_vals, p):
    """The same nearest-rank percentile wrp-replay uses."""
    n = len(sorted_vals)
    if n == 0:
        return 0.0
    return sorted_vals[min(n - 1, int(math.ceil(p * n)) - 1)]


def cmd_run(a):
    reqs = load_trace(a.trace, a.limit)
    host, port = a.host, a.port
    chunks = Chunks(a.seed)
    t_build = time.monotonic()
    bodies = [build_body(r, i, chunks, a.model) for i, r in enumerate(reqs)]
    build_s = time.monotonic() - t_build
    t0_trace = reqs[0]["timestamp"] if reqs else 0
    results = [None] * len(reqs)
    lock = threading.Lock()
    active = [0]
    peak = [0]

    def worker(i, scheduled):
        start = time.monotonic()
        res = {"lag_ms": (start - scheduled) * 1000, "status": 0, "backend": None, "ttft_s": None,
               "prompt": 0, "cached": 0, "chunks": 0, "error": None}
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        try:
            conn = http.client.HTTPConnection(host, port, timeout=a.request_timeout_s)
            conn.request("POST", "/v1/chat/completions", body=bodies[i],
                         headers={"content-type": "application/json"})
            resp = conn.getresponse()
            res["status"] = resp.status
            res["backend"] = resp.getheader("x-wrp-backend")
            if resp.status != 200:
                res["error"] = resp.read()[:200].decode("utf-8", "replace")
            else:
                while True:
                    line = resp.readline()
                    if not line:
                        break
                    if not line.startswith(b"data: "):
                        continue
                    payload = line[6:].strip()
                    if payload == b"[DONE]":
                        break
                    res["chunks"] += 1
                    if res["ttft_s"] is None and b'"content"' in payload:
                        res["ttft_s"] = time.monotonic() - start
                    if b'"usage"' in payload:
                        u = json.loads(payload).get("usage") or {}
                        res["prompt"] = int(u.get("prompt_tokens") or 0)
                        res["cached"] = int((u.get("prompt_tokens_details") or {}).get("cached_tokens") or 0)
            conn.close()
        except Exception as e:  # noqa: BLE001 - report, never crash the replay
            res["error"] = f"{type(e).__name__}: {e}"
        res["total_s"] = time.monotonic() - start
        results[i] = res
        with lock:
            active[0] -= 1

    threads = []
    wall0 = time.monotonic() + 0.2
    deadline = wall0 + a.max_wall_s
    for i, r in enumerate(reqs):
        scheduled = wall0 + (r["timestamp"] - t0_trace) / 1000 / a.speedup
        now = time.monotonic()
        if scheduled > now:
            time.sleep(scheduled - now)
        if time.monotonic() > deadline:
            break
        t = threading.Thread(target=worker, args=(i, scheduled), daemon=True)
        t.start()
        threads.append(t)
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    wall = time.monotonic() - wall0

    done = [r for r in results if r is not None]
    ok = [r for r in done if r["status"] == 200 and r["error"] is None and r["ttft_s"] is not None]
    sent = len(threads)
    ttfts = sorted(r["ttft_s"] * a.speedup * 1000 for r in ok)
    slo = a.slo_ttft_ms
    prompt = sum(r["prompt"] for r in ok)
    cached = sum(r["cached"] for r in ok)
    counts = {}
    for r in ok:
        counts[r["backend"]] = counts.get(r["backend"], 0) + 1
    per_backend = [counts.get(f"sim-{k}", 0) for k in range(a.backends)]
    mean = len(ok) / max(1, a.backends)
    lags = sorted(r["lag_ms"] for r in done)
    errors = {}
    for r in done:
        if r not in ok:
            key = r["error"] or f"status {r['status']}"
            errors[key[:80]] = errors.get(key[:80], 0) + 1
    out = {
        "policy": a.policy,
        "requests": len(ok),
        "sent": sent,
        "trace_requests": len(reqs),
        "unfinished": sent - len(done),
        "errors": sum(errors.values()),
        "error_kinds": errors,
        "hit_rate": round(cached / prompt, 4) if prompt else 0.0,
        "prompt_tokens": prompt,
        "cached_tokens": cached,
        "ttft_p50_ms": round(pct(ttfts, 0.5), 1),
        "ttft_p90_ms": round(pct(ttfts, 0.9), 1),
        "ttft_p99_ms": round(pct(ttfts, 0.99), 1),
        # Failed or unfinished requests count as misses.
        "slo_attainment": round(sum(1 for t in ttfts if t <= slo) / max(1, len(reqs)), 4),
        "imbalance": round(max(per_backend) / mean, 3) if mean else 0.0,
        "per_backend": per_backend,
        "speedup": a.speedup,
        "wall_s": round(wall, 1),
        "body_build_s": round(build_s, 1),
        "dispatch_lag_ms_p50": round(pct(lags, 0.5), 2),
        "dispatch_lag_ms_p99": round(pct(lags, 0.99), 2),
        "dispatch_lag_ms_max": round(lags[-1], 2) if lags else 0.0,
        "peak_concurrency": peak[0],
        "sse_chunks": sum(r["chunks"] for r in ok),
    }
    text = json.dumps(out)
    if a.out:
        with open(a.out, "w") as f:
            f.write(text + "\n")
    print(text)
    return 0 if out["errors"] == 0 and out["unfinished"] == 0 else 1


def fmt(v, d):
    return f"{v:.{d}f}"


def cmd_report(a):
    rows = []
    for path in a.files:
        with open(path) as f:
            text = f.read().strip()
        obj = json.loads(text)
        if isinstance(obj, list):
            obj = obj[0]
        rows.append((path, obj))
    print("| run | policy | requests | hit_rate | ttft_p50_ms | ttft_p90_ms | ttft_p99_ms | slo_attainment | imbalance |")
    print("|---|---|---|---|---|---|---|---|---|")
    for path, o in rows:
        kind = "live (wrpd + wrp-sim)" if "sent" in o else "wrp-replay (simulator)"
        print(f"| {kind} | {o['policy']} | {o['requests']} | {fmt(o['hit_rate'], 3)} | {fmt(o['ttft_p50_ms'], 0)} | "
              f"{fmt(o['ttft_p90_ms'], 0)} | {fmt(o['ttft_p99_ms'], 0)} | {fmt(o['slo_attainment'], 3)} | "
              f"{fmt(o['imbalance'], 2)} |")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("slice")
    s.add_argument("--trace", required=True)
    s.add_argument("--limit", type=int, default=1500)
    s.add_argument("--max-input-tokens", type=int, default=0, help="0 = no cap")
    s.add_argument("--max-output-tokens", type=int, default=0, help="0 = no cap")
    s.add_argument("--out", required=True)
    r = sub.add_parser("run")
    r.add_argument("--trace", required=True, help="a slice written by `slice`")
    r.add_argument("--limit", type=int, default=0)
    r.add_argument("--host", default="127.0.0.1")
    r.add_argument("--port", type=int, required=True)
    r.add_argument("--model", default="sim-llama-8b")
    r.add_argument("--policy", default="?", help="label for the output")
    r.add_argument("--backends", type=int, default=8)
    r.add_argument("--speedup", type=float, default=5.0)
    r.add_argument("--slo-ttft-ms", type=float, default=5000.0, help="in trace (virtual) ms")
    r.add_argument("--seed", type=int, default=1)
    r.add_argument("--request-timeout-s", type=float, default=120.0)
    r.add_argument("--max-wall-s", type=float, default=600.0, help="stop dispatching and waiting after this")
    r.add_argument("--out")
    rep = sub.add_parser("report")
    rep.add_argument("files", nargs="+")
    a = p.parse_args()
    if a.cmd == "slice":
        return cmd_slice(a)
    if a.cmd == "run":
        return cmd_run(a)
    return cmd_report(a)


if __name__ == "__main__":
    sys.exit(main() or 0)

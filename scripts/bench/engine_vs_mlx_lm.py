#!/usr/bin/env python3
"""runner's engine against mlx-lm 0.32.2 on the same converted SmolLM2, the
same libmlx and the same OpenBLAS: interleaved repetitions, medians with
their spread (min-max), and the ratios runner / mlx-lm.

  .venv/bin/python scripts/bench/engine_vs_mlx_lm.py [--reps 5] [--tokens 128]
      [--prompt-tokens 12,400,1900,3400]

With --prompt-tokens, each length is measured on its own numeric prompt
(3-digit values separated by ", ", as the tasks' prompts read; the same
tokens for both) in separate processes, so each peak memory is its own.
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RUNNER = ROOT / "target" / "release" / "runner"
PEER = ROOT / "scripts" / "peer" / "bench_mlx_lm.py"
PROMPT = "Write a long story about a dragon and a knight who"


def run_json(cmd):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def same_openblas_settings():
    """Both sides run with the OpenBLAS settings runner gives itself (kernel
    family, worker spin; `runner doctor` prints them), set here for every
    process this script starts."""
    out = subprocess.run([str(RUNNER), "doctor", "--no-bench"], check=True, capture_output=True, text=True).stdout
    found = re.search(r"OPENBLAS_CORETYPE=(\S+) OPENBLAS_THREAD_TIMEOUT=(\S+)", out)
    if found:
        for name, value in zip(["OPENBLAS_CORETYPE", "OPENBLAS_THREAD_TIMEOUT"], found.groups()):
            if value != "unset":
                os.environ[name] = value
    print("OpenBLAS:", {k: os.environ.get(k) for k in ["OPENBLAS_CORETYPE", "OPENBLAS_THREAD_TIMEOUT"]}, flush=True)


def summary(values):
    return statistics.median(values), min(values), max(values)


def length_table(args, converted):
    lengths = [int(n) for n in args.prompt_tokens.split(",") if n.strip()]
    print(f"{'prompt':>6} {'metric':<16} {'runner':>10} {'mlx-lm':>10} ratio")
    for n in lengths:
        ours, peer = [], []
        for _ in range(args.reps):
            ours.append(run_json([str(RUNNER), "bench", "engine", "--model", str(converted), "--prompt-tokens", str(n),
                                  "--tokens", str(args.tokens), "--rows", "1"]))
            peer.append(run_json([sys.executable, str(PEER), str(converted), "", str(args.tokens), "1", str(n)]))
        assert ours[0]["prompt_tokens"] == peer[0]["prompt_tokens"] == n, (ours[0]["prompt_tokens"], peer[0]["prompt_tokens"], n)
        for name, key, scale in [("prefill tok/s", "prefill_tokens_per_s", 1), ("decode tok/s", "decode_tokens_per_s", 1),
                                 ("peak MiB", "peak_memory_bytes", 2**20)]:
            a = statistics.median(r[key] / scale for r in ours)
            b = statistics.median(r[key] / scale for r in peer)
            print(f"{n:>6} {name:<16} {a:>10.1f} {b:>10.1f} {a / b:.2f}x", flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--tokens", type=int, default=128)
    ap.add_argument("--model", default="models/SmolLM2-135M-Instruct.Q4_1.gguf")
    ap.add_argument("--prompt-tokens", default=None, help="comma-separated prompt lengths, e.g. 12,400,1900,3400")
    args = ap.parse_args()
    same_openblas_settings()
    tmp = Path(tempfile.mkdtemp())
    converted = tmp / "smollm2"
    subprocess.run([str(RUNNER), "model", "convert", args.model, str(converted)], check=True, capture_output=True)
    if args.prompt_tokens:
        return length_table(args, converted)
    ours, peer = [], []
    for i in range(args.reps):
        ours.append(run_json([str(RUNNER), "bench", "engine", "--model", str(converted), "--prompt", PROMPT,
                              "--tokens", str(args.tokens), "--rows", "1,8,16"]))
        peer.append(run_json([sys.executable, str(PEER), str(converted), PROMPT, str(args.tokens), "8"]))
        print(f"repetition {i + 1}/{args.reps} done", file=sys.stderr)

    def metric(runs, key):
        return [r[key] for r in runs]

    def batched(runs, rows):
        return [dict((int(k), v) for k, v in r["batched"])[rows] for r in runs]

    rows = [
        ("prefill tok/s", metric(ours, "prefill_tokens_per_s"), metric(peer, "prefill_tokens_per_s")),
        (f"decode tok/s ({args.tokens} tokens)", metric(ours, "decode_tokens_per_s"), metric(peer, "decode_tokens_per_s")),
        ("batched decode tok/s (8 rows)", batched(ours, 8), batched(peer, 8)),
        ("peak memory MiB", [r["peak_memory_bytes"] / 2**20 for r in ours], [r["peak_memory_bytes"] / 2**20 for r in peer]),
    ]
    print(f"{'metric':<34} {'runner (median [min-max])':<30} {'mlx-lm (median [min-max])':<30} ratio")
    for name, a, b in rows:
        ma, la, ha = summary(a)
        mb, lb, hb = summary(b)
        print(f"{name:<34} {ma:8.1f} [{la:.1f}-{ha:.1f}]{'':<10} {mb:8.1f} [{lb:.1f}-{hb:.1f}]{'':<10} {ma / mb:.2f}x")
    one, sixteen = summary(batched(ours, 1))[0], summary(batched(ours, 16))[0]
    print(f"engine loop: 16 callers {sixteen:.1f} tok/s vs 1 caller {one:.1f} tok/s = {sixteen / one:.2f}x")
    bw = statistics.median(metric(ours, "memory_bandwidth_gb_s"))
    bound = statistics.median(metric(ours, "decode_bound_tokens_per_s"))
    print(f"memory bandwidth {bw:.1f} GB/s; f32 weights {ours[0]['weight_bytes'] / 2**20:.0f} MiB -> decode bound {bound:.1f} tok/s")


if __name__ == "__main__":
    main()

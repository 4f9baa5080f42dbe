"""mlx-lm's side of the engine benchmark: one repetition, JSON on stdout.

  bench_mlx_lm.py MODEL_DIR PROMPT TOKENS ROWS [PROMPT_TOKENS]

With PROMPT_TOKENS, the prompt is the first PROMPT_TOKENS tokens of the
numeric text `runner bench engine --prompt-tokens` uses (PROMPT ignored).
"""
import json
import sys
import time

import mlx.core as mx
from mlx_lm import load
from mlx_lm.models.cache import make_prompt_cache


def main():
    path, prompt, tokens, rows = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    model, tok = load(path)
    if len(sys.argv) > 5:
        n = int(sys.argv[5])
        values = n // 2 + 8
        while True:
            text = ", ".join(str((i * 7919 + 13) % 900 + 100) for i in range(values))
            ids = tok.encode(text)
            if len(ids) >= n:
                ids = ids[:n]
                break
            values *= 2
    else:
        ids = tok.encode(prompt)

    # Prefill, then greedy decode of exactly `tokens` steps (no early stop).
    cache = make_prompt_cache(model)
    t0 = time.perf_counter()
    logits = model(mx.array([ids]), cache=cache)
    y = mx.argmax(logits[:, -1, :], axis=-1)
    mx.eval(y)
    prefill = len(ids) / (time.perf_counter() - t0)
    t1 = time.perf_counter()
    for _ in range(tokens):
        logits = model(y[:, None], cache=cache)
        y = mx.argmax(logits[:, -1, :], axis=-1)
        mx.eval(y)
    decode = tokens / (time.perf_counter() - t1)

    # `rows` identical prompts decoded as one batch.
    cache = make_prompt_cache(model)
    steps = tokens
    t2 = time.perf_counter()
    logits = model(mx.array([ids] * rows), cache=cache)
    y = mx.argmax(logits[:, -1, :], axis=-1)
    mx.eval(y)
    for _ in range(steps):
        logits = model(y[:, None], cache=cache)
        y = mx.argmax(logits[:, -1, :], axis=-1)
        mx.eval(y)
    batched = rows * steps / (time.perf_counter() - t2)
    json.dump({
        "prompt_tokens": len(ids),
        "prefill_tokens_per_s": prefill,
        "decode_tokens_per_s": decode,
        "batched": [[rows, batched]],
        "peak_memory_bytes": mx.get_peak_memory(),
    }, sys.stdout)


if __name__ == "__main__":
    main()

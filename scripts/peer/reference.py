"""The independent reference for runner's engine tests: mlx-lm 0.32.2 on the
same libmlx. Never imported by runner itself.

  reference.py logits DIR [--float32]     stdin {"prompts": [[ids]]} -> stdout {"logits": [[...]]}
  reference.py tiny DIR --arch A --tokenizer-from SRC [--dtype D] [--quantize B]
  reference.py tiny-gguf PATH REFDIR --qtype Q --tokenizer-gguf GGUF
"""
import argparse
import json
import shutil
import sys
from pathlib import Path

import mlx.core as mx
import numpy as np

TOKENIZER_FILES = ["tokenizer.json", "tokenizer_config.json", "generation_config.json"]


def tiny_config(arch, vocab):
    cfg = {
        "model_type": "llama",
        "hidden_size": 64,
        "intermediate_size": 128,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "head_dim": 16,
        "rms_norm_eps": 1e-5,
        "rope_theta": 10000.0,
        "vocab_size": vocab,
        "tie_word_embeddings": False,
        "max_position_embeddings": 2048,
    }
    if arch == "mistral":
        cfg["model_type"] = "mistral"
        cfg["tie_word_embeddings"] = False
    elif arch == "qwen2":
        cfg["model_type"] = "qwen2"
        cfg["tie_word_embeddings"] = True
        cfg["rope_theta"] = 1000000.0
    elif arch == "llama3":
        cfg["rope_theta"] = 500000.0
        cfg["tie_word_embeddings"] = True
        cfg["rope_scaling"] = {
            "rope_type": "llama3",
            "factor": 32.0,
            "low_freq_factor": 1.0,
            "high_freq_factor": 4.0,
            "original_max_position_embeddings": 64,
        }
    return cfg


def tiny_weights(cfg, seed):
    rng = np.random.default_rng(seed)
    d, f, v = cfg["hidden_size"], cfg["intermediate_size"], cfg["vocab_size"]
    nh, nkv, hd = cfg["num_attention_heads"], cfg["num_key_value_heads"], cfg["head_dim"]
    w = {}

    def rand(*shape, scale=0.08):
        return (rng.standard_normal(shape) * scale).astype(np.float32)

    w["model.embed_tokens.weight"] = rand(v, d, scale=0.5)
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}"
        w[f"{p}.input_layernorm.weight"] = (1 + rand(d, scale=0.1)).astype(np.float32)
        w[f"{p}.post_attention_layernorm.weight"] = (1 + rand(d, scale=0.1)).astype(np.float32)
        w[f"{p}.self_attn.q_proj.weight"] = rand(nh * hd, d)
        w[f"{p}.self_attn.k_proj.weight"] = rand(nkv * hd, d)
        w[f"{p}.self_attn.v_proj.weight"] = rand(nkv * hd, d)
        w[f"{p}.self_attn.o_proj.weight"] = rand(d, nh * hd)
        if cfg["model_type"] == "qwen2":
            w[f"{p}.self_attn.q_proj.bias"] = rand(nh * hd, scale=0.2)
            w[f"{p}.self_attn.k_proj.bias"] = rand(nkv * hd, scale=0.2)
            w[f"{p}.self_attn.v_proj.bias"] = rand(nkv * hd, scale=0.2)
        w[f"{p}.mlp.gate_proj.weight"] = rand(f, d)
        w[f"{p}.mlp.up_proj.weight"] = rand(f, d)
        w[f"{p}.mlp.down_proj.weight"] = rand(d, f)
    w["model.norm.weight"] = (1 + rand(d, scale=0.1)).astype(np.float32)
    if not cfg["tie_word_embeddings"]:
        w["lm_head.weight"] = rand(v, d)
    return w


def write_dir(out, cfg, weights, tokenizer_from, dtype="float32", quantize=None, shards=1):
    out = Path(out)
    out.mkdir(parents=True, exist_ok=False)
    arrays = {k: mx.array(v).astype(getattr(mx, dtype)) for k, v in weights.items()}
    if quantize:
        group = 32
        qd = {}
        for k, a in arrays.items():
            if k.endswith(".weight") and a.ndim == 2 and a.shape[1] % group == 0 and "norm" not in k:
                wq, s, b = mx.quantize(a, group_size=group, bits=quantize)
                stem = k[: -len(".weight")]
                qd[k], qd[f"{stem}.scales"], qd[f"{stem}.biases"] = wq, s, b
            else:
                qd[k] = a
        arrays = qd
        cfg = dict(cfg, quantization={"group_size": group, "bits": quantize})
    if shards <= 1:
        mx.save_safetensors(str(out / "model.safetensors"), arrays, metadata={"format": "mlx"})
    else:
        # Hugging Face sharding: model-0000i-of-0000n.safetensors plus an index.
        names = sorted(arrays)
        weight_map = {}
        for i in range(shards):
            part = names[i::shards]
            fname = f"model-{i + 1:05d}-of-{shards:05d}.safetensors"
            mx.save_safetensors(str(out / fname), {k: arrays[k] for k in part}, metadata={"format": "mlx"})
            weight_map.update({k: fname for k in part})
        index = {"metadata": {}, "weight_map": dict(sorted(weight_map.items()))}
        (out / "model.safetensors.index.json").write_text(json.dumps(index, indent=1))
    (out / "config.json").write_text(json.dumps(cfg, indent=1))
    for name in TOKENIZER_FILES:
        shutil.copy(Path(tokenizer_from) / name, out / name)


def dequantized_copy(src, dst):
    """The same model with every MLX-quantized matrix expanded to float32."""
    cfg = json.loads((Path(src) / "config.json").read_text())
    q = cfg.pop("quantization")
    cfg.pop("quantization_config", None)
    w = mx.load(str(Path(src) / "model.safetensors"))
    out = {}
    for k, a in w.items():
        if k.endswith(".scales") or k.endswith(".biases"):
            continue
        stem = k[: -len(".weight")] if k.endswith(".weight") else k
        if f"{stem}.scales" in w:
            a = mx.dequantize(a, w[f"{stem}.scales"].astype(mx.float32), w[f"{stem}.biases"].astype(mx.float32),
                              group_size=q["group_size"], bits=q["bits"])
        out[k] = a.astype(mx.float32)
    Path(dst).mkdir(parents=True)
    mx.save_safetensors(str(Path(dst) / "model.safetensors"), out)
    (Path(dst) / "config.json").write_text(json.dumps(cfg))
    for name in TOKENIZER_FILES:
        shutil.copy(Path(src) / name, Path(dst) / name)


def cmd_logits(args):
    import tempfile

    from mlx_lm.utils import load_model

    path = Path(args.dir)
    if args.dequantize:
        tmp = tempfile.mkdtemp()
        dequantized_copy(path, Path(tmp) / "model")
        path = Path(tmp) / "model"
    model, _ = load_model(path)
    if args.float32:
        model.set_dtype(mx.float32)
    prompts = json.load(sys.stdin)["prompts"]
    out = []
    for ids in prompts:
        logits = model(mx.array([ids]))[0, -1].astype(mx.float32)
        out.append(logits.tolist())
    json.dump({"logits": out}, sys.stdout)


def cmd_tiny(args):
    vocab = json.loads((Path(args.tokenizer_from) / "config.json").read_text())["vocab_size"]
    cfg = tiny_config(args.arch, vocab)
    write_dir(args.dir, cfg, tiny_weights(cfg, args.seed), args.tokenizer_from, args.dtype, args.quantize, args.shards)


def permute(w, heads):
    # llama.cpp's converter order for Q/K rows (interleaved rotary pairs).
    rows = w.shape[0]
    return w.reshape(heads, 2, rows // heads // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def cmd_tiny_gguf(args):
    import gguf

    reader = gguf.GGUFReader(args.tokenizer_gguf)

    def field(name):
        return reader.fields[name].contents()

    tokens = field("tokenizer.ggml.tokens")
    cfg = tiny_config("llama", len(tokens))
    weights = tiny_weights(cfg, args.seed)
    qtype = getattr(gguf.GGMLQuantizationType, args.qtype)
    names = {
        "model.embed_tokens.weight": "token_embd.weight",
        "model.norm.weight": "output_norm.weight",
        "lm_head.weight": "output.weight",
    }
    parts = {
        "input_layernorm": "attn_norm", "post_attention_layernorm": "ffn_norm",
        "self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k", "self_attn.v_proj": "attn_v",
        "self_attn.o_proj": "attn_output", "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up",
        "mlp.down_proj": "ffn_down",
    }
    w = gguf.GGUFWriter(args.path, "llama")
    w.add_block_count(cfg["num_hidden_layers"])
    w.add_context_length(cfg["max_position_embeddings"])
    w.add_embedding_length(cfg["hidden_size"])
    w.add_feed_forward_length(cfg["intermediate_size"])
    w.add_head_count(cfg["num_attention_heads"])
    w.add_head_count_kv(cfg["num_key_value_heads"])
    w.add_rope_dimension_count(cfg["head_dim"])
    w.add_rope_freq_base(cfg["rope_theta"])
    w.add_layer_norm_rms_eps(cfg["rms_norm_eps"])
    w.add_vocab_size(len(tokens))
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre(field("tokenizer.ggml.pre"))
    w.add_token_list(tokens)
    w.add_token_merges(field("tokenizer.ggml.merges"))
    w.add_token_types(field("tokenizer.ggml.token_type"))
    w.add_bos_token_id(int(field("tokenizer.ggml.bos_token_id")))
    w.add_eos_token_id(int(field("tokenizer.ggml.eos_token_id")))
    reference = {}
    for hf, arr in weights.items():
        if hf in names:
            name = names[hf]
        else:
            layer, rest = hf[len("model.layers."):].split(".", 1)
            stem, suffix = rest.rsplit(".", 1)
            name = f"blk.{layer}.{parts[stem]}.{suffix}"
        stored = arr
        if hf.endswith("q_proj.weight"):
            stored = permute(arr, cfg["num_attention_heads"])
        elif hf.endswith("k_proj.weight"):
            stored = permute(arr, cfg["num_key_value_heads"])
        t = qtype if (arr.ndim == 2 and "norm" not in hf) else gguf.GGMLQuantizationType.F32
        data = gguf.quants.quantize(stored, t)
        w.add_tensor(name, data, raw_dtype=t)
        # The reference sees exactly what the file holds, in HF row order.
        deq = gguf.quants.dequantize(data, t).reshape(arr.shape).astype(np.float32)
        if hf.endswith("q_proj.weight"):
            deq = unpermute(deq, cfg["num_attention_heads"])
        elif hf.endswith("k_proj.weight"):
            deq = unpermute(deq, cfg["num_key_value_heads"])
        reference[hf] = deq
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    write_dir(args.refdir, cfg, reference, args.tokenizer_from)


def unpermute(w, heads):
    rows = w.shape[0]
    return w.reshape(heads, rows // heads // 2, 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("logits")
    a.add_argument("dir")
    a.add_argument("--float32", action="store_true")
    a.add_argument("--dequantize", action="store_true", help="expand MLX-quantized weights to f32 first")
    a.set_defaults(fn=cmd_logits)
    t = sub.add_parser("tiny")
    t.add_argument("dir")
    t.add_argument("--arch", required=True, choices=["llama", "mistral", "qwen2", "llama3"])
    t.add_argument("--tokenizer-from", required=True)
    t.add_argument("--dtype", default="float32", choices=["float32", "float16", "bfloat16"])
    t.add_argument("--quantize", type=int, choices=[4, 8])
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--shards", type=int, default=1, help="split the weights into this many files plus an index")
    t.set_defaults(fn=cmd_tiny)
    g = sub.add_parser("tiny-gguf")
    g.add_argument("path")
    g.add_argument("refdir")
    g.add_argument("--qtype", required=True, choices=["F32", "F16", "Q8_0", "Q4_0", "Q4_1"])
    g.add_argument("--tokenizer-gguf", required=True)
    g.add_argument("--tokenizer-from", required=True)
    g.add_argument("--seed", type=int, default=0)
    g.set_defaults(fn=cmd_tiny_gguf)
    args = p.parse_args()
    args.fn(args)


if __name__ == "__main__":
    main()

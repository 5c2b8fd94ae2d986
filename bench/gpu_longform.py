"""1 hour of audio through a full-size Qwen2-Audio-7B architecture on a GPU: batched vs sequential.

The model has the released Qwen2-Audio-7B shapes (Whisper-large-v3-style encoder: 32 layers, 1280 wide;
Qwen-7B decoder: 32 layers, 4096 wide, 11008 MLP, 156032 vocabulary) with random bf16 weights:
timing depends on shapes, not on weight values. Every chunk generates exactly ``--new-tokens`` tokens
(no end-of-sequence stop), ~100 per 30 s chunk like a transcript. The whole pipeline runs, as
``audiomm run`` does: decode + VAD + chunk plan of a 1-hour recording, map each chunk, stitch.

    python bench/gpu_longform.py [--minutes 60] [--batch-size 32] [--new-tokens 100]
    python bench/gpu_longform.py --small --minutes 3     # a CPU smoke run with tiny shapes (not a figure)

Prints seconds and real-time factor for batched and sequential runs, measured in this one run.
Target on one H100: <= 45 s for 1 hour (batched).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the repository: bench/ and tests.helpers

# Qwen/Qwen2-Audio-7B(-Instruct) config.json shapes
AUDIO_7B = {"d_model": 1280, "encoder_layers": 32, "encoder_attention_heads": 20, "encoder_ffn_dim": 5120}
TEXT_7B = {
    "hidden_size": 4096,
    "intermediate_size": 11008,
    "num_hidden_layers": 32,
    "num_attention_heads": 32,
    "num_key_value_heads": 32,
    "vocab_size": 156032,
    "max_position_embeddings": 8192,
    "rms_norm_eps": 1e-5,
}


def run_once(path: Path, backend, batch_size: int, new_tokens: int):
    from audiomm import RunOptions
    from audiomm.longform import run
    from audiomm.tasks.presets import get

    backend.batch_size = batch_size
    t = time.perf_counter()
    r = run(path, get("transcript"), backend, RunOptions(max_new_tokens=new_tokens, cache=False, log=False))
    return time.perf_counter() - t, r


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=60)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--new-tokens", type=int, default=100)
    ap.add_argument(
        "--sequential-minutes",
        type=float,
        default=None,
        help="time sequential on a recording this long (default: --minutes) and say so",
    )
    ap.add_argument("--skip-sequential", action="store_true")
    ap.add_argument(
        "--small", action="store_true", help="tiny shapes on CPU: checks the script, not a figure"
    )
    args = ap.parse_args()

    import torch
    from tests.helpers.long_audio import write_long
    from tests.helpers.tinymodels import qwen2_audio

    from bench.batching import fixed_length_backend

    if args.small:
        device, dtype, text, audio = "cpu", torch.float32, {}, {}
    else:
        if not torch.cuda.is_available():
            sys.exit("gpu_longform.py needs a CUDA GPU (use --small for a CPU smoke run)")
        device, dtype, text, audio = "cuda", torch.bfloat16, TEXT_7B, AUDIO_7B
    t = time.perf_counter()
    net, processor = qwen2_audio(text=text, audio=audio, device=device, dtype=dtype)
    params = sum(p.numel() for p in net.parameters())
    backend = fixed_length_backend(net, processor, "random Qwen2-Audio-7B architecture")
    gpu = torch.cuda.get_device_name(0) if device == "cuda" else "CPU"
    print(
        f"model: Qwen2AudioForConditionalGeneration {params / 1e9:.2f}B parameters, random {dtype}, {gpu} "
        f"(built in {time.perf_counter() - t:.0f} s)"
    )
    with tempfile.TemporaryDirectory() as tmp:
        path = write_long(Path(tmp) / "hour.m4a", args.minutes * 60)
        seconds = args.minutes * 60
        short = write_long(Path(tmp) / "warm.m4a", 60)
        run_once(short, backend, args.batch_size, 4)  # warm-up (kernels, allocator)
        tb, rb = run_once(path, backend, args.batch_size, args.new_tokens)
        n = len(rb.chunks)
        toks = sum(c.completion_tokens or 0 for c in rb.chunks)
        print(
            f"audio: {args.minutes:g} min, {n} chunks (longest {rb.coverage.longest_chunk_s:.1f} s), "
            f"covered {rb.coverage.covered_ratio:.1%}; {toks} tokens generated"
        )
        print(
            f"batched (batch {args.batch_size}): {tb:.1f} s  real-time factor {tb / seconds:.4f} "
            f"({seconds / tb:.0f}x real time); "
            f"plan {rb.timings['plan_s']:.1f} s, map {rb.timings['map_s']:.1f} s"
        )
        if args.skip_sequential:
            return
        smin = args.sequential_minutes or args.minutes
        spath = path if smin == args.minutes else write_long(Path(tmp) / "seq.m4a", smin * 60)
        ts, rs = run_once(spath, backend, 1, args.new_tokens)
        print(
            f"sequential ({smin:g} min, {len(rs.chunks)} chunks): {ts:.1f} s  "
            f"real-time factor {ts / (smin * 60):.4f}; map {rs.timings['map_s']:.1f} s"
        )
        rate_b, rate_s = tb / seconds, ts / (smin * 60)
        same = (
            " (same recording)"
            if smin == args.minutes
            else f" (per second of audio; sequential on {smin:g} min)"
        )
        print(f"ratio sequential/batched: {rate_s / rate_b:.2f}x{same}")


if __name__ == "__main__":
    main()

"""Batched vs sequential generation with the transformers backend, on CPU.

8 chunks of 30 s of real speech, a ~100M-parameter Qwen2-Audio (the real architecture: Whisper-style
encoder + Qwen2 decoder, random weights, so timings mean shapes, not words), the same fixed number of
new tokens per chunk. Prints both times and the ratio, measured in one run.

    python bench/batching.py [--chunks 8] [--new-tokens 100] [--repeat 2]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the repository: tests.helpers builds the random models

RATE = 16_000
# ~100M parameters: a 6-layer 512-wide Whisper-style encoder, an 8-layer 768-wide Qwen2 decoder, 16k vocab.
AUDIO = {"d_model": 512, "encoder_layers": 6, "encoder_attention_heads": 8, "encoder_ffn_dim": 2048}
TEXT = {
    "hidden_size": 768,
    "intermediate_size": 2048,
    "num_hidden_layers": 8,
    "num_attention_heads": 12,
    "num_key_value_heads": 12,
    "vocab_size": 16384,
}


def speech_chunks(n: int, seconds: float = 30.0) -> list[np.ndarray]:
    """``n`` chunks of real speech with pauses (the bundled clips, repeated to fill the windows)."""
    from tests.helpers.long_audio import pattern

    speech = pattern()
    need = int(seconds * RATE)
    long = np.tile(speech, int(np.ceil(need * n / len(speech))))
    return [long[i * need : (i + 1) * need].copy() for i in range(n)]


def fixed_length_backend(net, processor, name: str):
    """A transformers backend on ``net`` that generates exactly max_new_tokens per request: no end-of-sequence
    stop, and the fixed length reported as a normal stop (not a truncation to retry): timing does not
    depend on the words."""
    from audiomm.backends.transformers_backend import TransformersBackend

    class FixedLength(TransformersBackend):
        def _batch(self, reqs):
            out = super()._batch(reqs)
            for r in out:
                r.finish_reason = "stop"
            return out

    net.generation_config.eos_token_id = None
    backend = FixedLength.from_loaded(net, processor, name)
    backend._eos = set()
    return backend


def timed(backend, reqs, batch_size: int) -> float:
    backend.batch_size = batch_size
    t = time.perf_counter()
    out = dict(backend.generate(reqs))
    elapsed = time.perf_counter() - t
    assert len(out) == len(reqs)
    return elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--chunks", type=int, default=8)
    ap.add_argument("--new-tokens", type=int, default=100)
    ap.add_argument(
        "--repeat", type=int, default=2, help="alternate sequential/batched this many times; best of each"
    )
    args = ap.parse_args()

    import torch
    from tests.helpers.tinymodels import qwen2_audio

    from audiomm.backends.base import GenerationSettings, Request

    net, processor = qwen2_audio(text=TEXT, audio=AUDIO)
    params = sum(p.numel() for p in net.parameters())
    backend = fixed_length_backend(net, processor, "random Qwen2-Audio (~100M)")
    st = GenerationSettings(max_new_tokens=args.new_tokens)
    reqs = [Request("Transcribe the audio.", a, "You transcribe.", st) for a in speech_chunks(args.chunks)]
    print(
        f"model: Qwen2AudioForConditionalGeneration, {params / 1e6:.0f}M parameters, random weights, fp32, CPU "
        f"({torch.get_num_threads()} threads)"
    )
    print(f"work: {args.chunks} chunks x 30 s of speech, {args.new_tokens} new tokens each")
    timed(backend, reqs[:1], 1)  # warm-up
    seq, bat = [], []
    for _ in range(args.repeat):
        seq.append(timed(backend, reqs, 1))
        bat.append(timed(backend, reqs, args.chunks))
        print(f"  sequential {seq[-1]:.2f} s   batched ({args.chunks}) {bat[-1]:.2f} s")
    s, b = min(seq), min(bat)
    print(f"sequential: {s:.2f} s  batched: {b:.2f} s  ratio: {s / b:.2f}x (best of {args.repeat})")


if __name__ == "__main__":
    main()

"""The classic pipeline's real-time factor on this CPU, for 10 minutes of real speech.

Real clips (JFK, and the left channel of the stereo reading) joined with pauses of 0.6 to 3 s into
10 minutes, with a known reference. Measured in one run:
  - audiomm's classic pipeline (transcript preset): Whisper tiny.en (CTranslate2, int8 on CPU) on
    chunks cut at pauses, pieces of at most 15 s;
  - faster-whisper run directly on the whole file (its own long-form decoding, with its VAD).
Prints wall time, real-time factor (processing s / audio s) and WER for each. Model loading is
timed separately and not in the RTF.

    python bench/classic.py [--minutes 10]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository: tests.helpers builds fixtures

from tests.helpers.audio import DATA, join, write  # noqa: E402
from tests.helpers.offline_models import whisper_tiny_en  # noqa: E402

import audiomm  # noqa: E402
from audiomm import BackendConfig, RunOptions  # noqa: E402
from audiomm.audio.decode import decode_all  # noqa: E402
from audiomm.backends.classic import ClassicBackend  # noqa: E402
from audiomm.evaluate.wer import error_rates  # noqa: E402


def recording(path: Path, minutes: float) -> tuple[Path, str, float]:
    refs = json.loads((DATA / "transcripts.json").read_text())
    jfk = (decode_all(DATA / "jfk.flac")[0], refs["jfk.flac"]["text"])
    wiz = (
        decode_all(DATA / "stereo_diarization.wav", channel="left")[0],
        refs["stereo_diarization.wav"]["text_left_channel"],
    )
    pattern = [jfk, wiz, wiz, jfk, jfk, wiz, jfk, wiz, wiz, jfk, jfk, wiz]
    pauses = [1.2, 0.6, 2.5, 0.9, 3.0, 1.5]
    parts, texts, total, i = [], [], 0.0, 0
    while total < minutes * 60:
        audio, text = pattern[i % len(pattern)]
        pause = pauses[i % len(pauses)]
        parts += [audio, pause]
        texts.append(text)
        total += len(audio) / 16000 + pause
        i += 1
    audio, _ = join(parts)
    return write(path, audio), " ".join(texts), len(audio) / 16000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=10.0)
    args = ap.parse_args()
    os.environ.setdefault("AUDIOMM_HOME", tempfile.mkdtemp(prefix="audiomm-bench-"))
    with tempfile.TemporaryDirectory() as tmp:
        path, reference, seconds = recording(Path(tmp) / "speech.flac", args.minutes)
        print(
            f"recording: {seconds / 60:.1f} min of real speech (joined clips), {len(reference.split())} words"
        )
        t = time.perf_counter()
        backend = ClassicBackend(BackendConfig("classic", whisper_tiny_en()))
        print(f"load Whisper tiny.en: {time.perf_counter() - t:.2f} s (cpu threads: {os.cpu_count()})")

        t = time.perf_counter()
        r = audiomm.run(path, "transcript", backend, RunOptions(cache=False, log=False))
        ours = time.perf_counter() - t
        e1 = error_rates(reference, r.text)
        print(
            f"audiomm classic:         {ours:7.1f} s  RTF {ours / seconds:.3f}  WER {100 * e1.wer:.2f} %"
            f"  ({len(r.chunks)} chunks, coverage {r.coverage.covered_ratio:.1%}, {backend.recovered} regions"
            " decoded again)"
        )

        t = time.perf_counter()
        segments, _ = backend.asr.transcribe(str(path), beam_size=5, vad_filter=True)
        text = " ".join(s.text.strip() for s in segments)
        direct = time.perf_counter() - t
        e2 = error_rates(reference, text)
        print(
            f"faster-whisper directly: {direct:7.1f} s  RTF {direct / seconds:.3f}  WER {100 * e2.wer:.2f} %"
        )
        print(
            f"ratio (audiomm / direct): time {ours / direct:.2f}x, WER {100 * (e1.wer - e2.wer):+.2f} points"
        )


if __name__ == "__main__":
    main()

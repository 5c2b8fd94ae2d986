"""Speaker diarization: DER, speaker-count error and speed, on real speech with known turns.

    .venv/bin/python bench/speakers.py [--hours 1] [--no-long]

1. The conversations of ``tests.helpers.speakers.CASES`` (real speech of 7 people from tests/data,
   joined with 0.3 s pauses or none) and the real phone call ``tests/data/pyannote_sample.wav`` with its
   reference RTTM: DER (missed + false alarm + confusion, optimal mapping, no collar and a 0.25 s
   collar), the share of speech given the right speaker, the speaker count found (not given) against
   the true one; then the same with the count given.
2. Speed: ``audiomm audio speakers`` on an ``--hours`` long m4a built from the clips in tests/data, in a
   child process: seconds, real-time factor, peak RSS.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository: tests.helpers builds fixtures
from tests.helpers.audio import DATA  # noqa: E402
from tests.helpers.long_audio import write_long  # noqa: E402
from tests.helpers.speakers import CASES, SAMPLE, rttm_turns  # noqa: E402

from audiomm.audio.speaker_score import score  # noqa: E402
from audiomm.audio.speakers import SpeakerOptions, diarize  # noqa: E402

WRAPPER = """
import json, resource, subprocess, sys, time
t = time.perf_counter()
p = subprocess.run(sys.argv[1:], capture_output=True, text=True)
print(json.dumps({"rc": p.returncode, "out": p.stdout, "err": p.stderr, "seconds": time.perf_counter() - t,
                  "peak_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}))
"""


def recordings(tmp: Path) -> list[tuple[str, Path, list]]:
    out = []
    for i, case in enumerate(CASES):
        path = tmp / f"case{i}.wav"
        out.append((case.name, path, case.build(path)))
    out.append(
        ("real phone call (pyannote sample)", DATA / f"{SAMPLE}.wav", rttm_turns(DATA / f"{SAMPLE}.rttm"))
    )
    return out


def accuracy(recs: list[tuple[str, Path, list]], given: bool) -> list[dict]:
    rows = []
    for name, path, ref in recs:
        k = len({t.speaker for t in ref})
        t = time.perf_counter()
        smap = diarize(path, SpeakerOptions(num_speakers=k if given else None))
        seconds = time.perf_counter() - t
        s, s25 = score(ref, smap.turns), score(ref, smap.turns, collar_s=0.25)
        rows.append(
            {
                "recording": name,
                "speakers": k,
                "found": len(smap.speakers),
                "der": s.der,
                "der_collar": s25.der,
                "false_alarm": s.false_alarm_s / s.speech_s,
                "correct": s.correct_ratio,
                "speech_s": s.speech_s,
                "rtf": seconds / smap.coverage.duration_s,
            }
        )
    return rows


def report(rows: list[dict], title: str) -> None:
    print(f"\n{title}")
    print(
        "| recording | speakers | found | DER | of it false alarm | DER (0.25 s collar) | speech given the right speaker |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['recording']} | {r['speakers']} | {r['found']} | {r['der']:.1%} | {r['false_alarm']:.1%} | {r['der_collar']:.1%} | {r['correct']:.1%} |"
        )
    total = sum(r["speech_s"] for r in rows)
    der = sum(r["der"] * r["speech_s"] for r in rows) / total
    der25 = sum(r["der_collar"] * r["speech_s"] for r in rows) / total
    right = sum(r["found"] == r["speakers"] for r in rows)
    mae = sum(abs(r["found"] - r["speakers"]) for r in rows) / len(rows)
    print(
        f"overall (speech-weighted): DER {der:.1%}, with collar {der25:.1%}; speaker count right in "
        f"{right}/{len(rows)}, mean absolute count error {mae:.2f}"
    )


def speed(tmp: Path, hours: float) -> None:
    path = write_long(tmp / "long.m4a", hours * 3600)
    exe = str(Path(sys.executable).with_name("audiomm"))
    p = subprocess.run(
        [sys.executable, "-c", WRAPPER, exe, "audio", "speakers", str(path), "--json"],
        capture_output=True,
        text=True,
    )
    res = json.loads(p.stdout)
    if res["rc"]:
        sys.exit(res["err"])
    d = json.loads(res["out"])
    cov = d["coverage"]
    print(
        f"\n{hours:g} h m4a: {res['seconds']:.1f} s, real-time factor {res['seconds'] / cov['duration_s']:.4f}, "
        f"peak RSS {res['peak_mb']:.0f} MB, {cov['windows']} windows, {cov['speakers']} speakers, "
        f"{cov['ratio']:.1%} of {cov['speech_s']:.0f} s of speech given a speaker"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hours", type=float, default=1.0)
    ap.add_argument("--no-long", action="store_true", help="skip the speed run on a long file")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        recs = recordings(tmp)
        report(accuracy(recs, given=False), "speaker count estimated")
        report(accuracy(recs, given=True), "speaker count given")
        if not args.no_long:
            speed(tmp, args.hours)


if __name__ == "__main__":
    main()

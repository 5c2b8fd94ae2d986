"""``--engine pyannote``: pyannote.audio's diarization pipeline, for users with Hugging Face Hub access.

The pipeline's weights are gated on the Hub: accept the model's conditions there, then give a token in
``HF_TOKEN``. Nothing is downloaded by the default engine; this one needs the network the first time
(then the Hub cache). Every way it can fail to load is one ``error:`` line naming what to do.
"""

from __future__ import annotations

import os

from audiomm.audio.decode import decode_all
from audiomm.audio.speakers import SpeakerMap, SpeakerOptions, Turn, speaker_map
from audiomm.errors import AudiommError, first_line


def load_pipeline(model: str, token: str | None):
    """``pyannote.audio.Pipeline.from_pretrained(model, token=token)``, or one error line."""
    try:
        from pyannote.audio import Pipeline
    except ImportError:
        raise AudiommError(
            "--engine pyannote needs pyannote.audio (pip install pyannote.audio) and a Hugging Face token "
            f"in HF_TOKEN with access to {model} on the Hub; the default engine (resemblyzer) runs offline"
        ) from None
    where = "HF_TOKEN is not set" if not token else "with the HF_TOKEN given"
    try:
        pipeline = Pipeline.from_pretrained(model, token=token)
    except Exception as exc:  # noqa: BLE001 - offline, gated, unknown model: all one line
        raise AudiommError(
            f"--engine pyannote: cannot load {model} from the Hugging Face Hub ({where}; "
            f"{type(exc).__name__}: {first_line(exc, 160)}); accept the model's conditions on the Hub, "
            "set HF_TOKEN and connect once, or use the default offline engine (resemblyzer)"
        ) from None
    if pipeline is None:  # older pyannote versions return None for a gated model
        raise AudiommError(
            f"--engine pyannote: the Hub refused {model} ({where}); accept its conditions, set HF_TOKEN"
        )
    return pipeline


def diarize_pyannote(path: str | os.PathLike, options: SpeakerOptions) -> SpeakerMap:
    """Turns from pyannote's pipeline, the speakers renamed S1, S2, ... by first appearance."""
    pipeline = load_pipeline(options.pyannote_model, os.environ.get("HF_TOKEN") or None)
    audio, report = decode_all(path, channel=options.channel)  # pyannote holds the whole waveform anyway
    import torch

    lo, hi = options.bounds()
    bounds = {"num_speakers": lo} if lo == hi else {"min_speakers": lo, "max_speakers": hi}
    result = pipeline({"waveform": torch.from_numpy(audio)[None], "sample_rate": report.rate}, **bounds)
    annotation = getattr(result, "speaker_diarization", result)  # pyannote 4 wraps it in an output object
    tracks = sorted(
        (float(seg.start), float(seg.end), label) for seg, _, label in annotation.itertracks(yield_label=True)
    )
    names: dict[str, str] = {}
    for _, _, label in tracks:
        names.setdefault(label, f"S{len(names) + 1}")
    turns = [Turn(a, b, names[label]) for a, b, label in tracks]
    regions: list[tuple[float, float]] = []  # speech: the union of the turns (pyannote's may overlap)
    for t in turns:
        if regions and t.start_s <= regions[-1][1]:
            regions[-1] = (regions[-1][0], max(regions[-1][1], t.end_s))
        else:
            regions.append((t.start_s, t.end_s))
    return speaker_map(turns, regions, report, 0, options)

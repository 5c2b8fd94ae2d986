"""Diarization error rate (DER) of speaker turns against reference turns, on a 10 ms grid.

DER = (missed speech + false alarm + speaker confusion) / reference speech, with the one-to-one mapping
of hypothesis speakers to reference speakers that maximises the time they agree (Hungarian algorithm,
as NIST's md-eval and pyannote.metrics do). Overlapped reference speech counts once per speaker. A
``collar`` (seconds) around each reference boundary is left out of the score (0 by default: every
frame counts).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from audiomm.audio.speakers import Turn

STEP_S = 0.01


@dataclass(frozen=True)
class SpeakerScore:
    speech_s: float  # reference speech (speaker-seconds)
    missed_s: float
    false_alarm_s: float
    confusion_s: float
    reference_speakers: int
    hypothesis_speakers: int
    mapping: dict[str, str]  # hypothesis speaker -> reference speaker

    @property
    def der(self) -> float:
        return (
            (self.missed_s + self.false_alarm_s + self.confusion_s) / self.speech_s if self.speech_s else 0.0
        )

    @property
    def correct_ratio(self) -> float:
        """Share of reference speech time given the right speaker (after the mapping)."""
        return 1 - (self.missed_s + self.confusion_s) / self.speech_s if self.speech_s else 1.0

    @property
    def count_error(self) -> int:
        return self.hypothesis_speakers - self.reference_speakers

    def to_dict(self) -> dict:
        return {
            "der": round(self.der, 4),
            "correct_ratio": round(self.correct_ratio, 4),
            "missed_s": round(self.missed_s, 2),
            "false_alarm_s": round(self.false_alarm_s, 2),
            "confusion_s": round(self.confusion_s, 2),
            "speech_s": round(self.speech_s, 2),
            "reference_speakers": self.reference_speakers,
            "hypothesis_speakers": self.hypothesis_speakers,
        }


def _grid(turns: list[Turn], speakers: list[str], n: int) -> np.ndarray:
    """(frames, speakers) activity on the 10 ms grid."""
    g = np.zeros((n, len(speakers)), bool)
    for t in turns:
        g[int(round(t.start_s / STEP_S)) : int(round(t.end_s / STEP_S)), speakers.index(t.speaker)] = True
    return g


def score(reference: list[Turn], hypothesis: list[Turn], collar_s: float = 0.0) -> SpeakerScore:
    """The DER of ``hypothesis`` against ``reference`` (see the module's docstring)."""
    from scipy.optimize import linear_sum_assignment

    ref_spk = sorted({t.speaker for t in reference})
    hyp_spk = sorted({t.speaker for t in hypothesis})
    end = max([t.end_s for t in reference + hypothesis], default=0.0)
    n = int(np.ceil(end / STEP_S)) + 1
    ref, hyp = _grid(reference, ref_spk, n), _grid(hypothesis, hyp_spk, n)
    scored = np.ones(n, bool)
    if collar_s > 0:
        for t in reference:
            for edge in (t.start_s, t.end_s):
                scored[
                    max(0, int(round((edge - collar_s) / STEP_S))) : int(round((edge + collar_s) / STEP_S))
                ] = False
    ref, hyp = ref[scored], hyp[scored]
    agree = ref.T.astype(np.float64) @ hyp.astype(np.float64)  # (ref, hyp) frames both active
    rows, cols = linear_sum_assignment(-agree) if agree.size else ([], [])
    n_ref, n_hyp = ref.sum(axis=1), hyp.sum(axis=1)
    mapped = np.zeros_like(ref)
    for r, c in zip(rows, cols, strict=True):
        mapped[:, r] |= hyp[:, c]
    correct = (ref & mapped).sum(axis=1)
    missed = np.maximum(n_ref - n_hyp, 0).sum()
    false_alarm = np.maximum(n_hyp - n_ref, 0).sum()
    confusion = (np.minimum(n_ref, n_hyp) - correct).sum()
    return SpeakerScore(
        speech_s=float(n_ref.sum() * STEP_S),
        missed_s=float(missed * STEP_S),
        false_alarm_s=float(false_alarm * STEP_S),
        confusion_s=float(confusion * STEP_S),
        reference_speakers=len(ref_spk),
        hypothesis_speakers=len(hyp_spk),
        mapping={hyp_spk[c]: ref_spk[r] for r, c in zip(rows, cols, strict=True)},
    )

"""Word and character error rates with jiwer, after one text normalisation applied to both sides."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

_PUNCT = re.compile(r"[^\w\s']|_")
_APOS = re.compile(r"(?<!\w)'|'(?!\w)")


def normalise(text: str) -> str:
    """Lower case, Unicode NFKC, curly quotes straightened, punctuation and hyphens to spaces, apostrophes
    inside words kept (don't), whitespace collapsed. Numbers are left as written."""
    t = unicodedata.normalize("NFKC", text).lower().replace("\u2019", "'").replace("\u2018", "'")
    t = _PUNCT.sub(" ", t)
    t = _APOS.sub(" ", t)
    return " ".join(t.split())


@dataclass(frozen=True)
class ErrorRates:
    wer: float
    cer: float
    ref_words: int
    substitutions: int
    deletions: int
    insertions: int

    def to_dict(self) -> dict:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in self.__dict__.items()}


def error_rates(reference: str, hypothesis: str) -> ErrorRates:
    """WER and CER of ``hypothesis`` against ``reference`` (both normalised first)."""
    import jiwer

    ref, hyp = normalise(reference), normalise(hypothesis)
    if not ref:
        raise ValueError("the reference is empty after normalisation")
    w = jiwer.process_words(ref, hyp if hyp else "")
    cer = jiwer.cer(ref, hyp) if hyp else 1.0
    return ErrorRates(w.wer, float(cer), len(ref.split()), w.substitutions, w.deletions, w.insertions)

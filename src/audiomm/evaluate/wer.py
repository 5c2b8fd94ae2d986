"""Word and character error rates with jiwer, after one text normalisation applied to both sides."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import asdict, dataclass, replace

from audiomm.evaluate.records import from_fields

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
    """Word and character error rates of one hypothesis, with the word edit counts behind the WER."""

    wer: float
    cer: float
    ref_words: int
    substitutions: int
    deletions: int
    insertions: int

    @property
    def errors(self) -> int:
        """Word edits: substitutions + deletions + insertions."""
        return self.substitutions + self.deletions + self.insertions

    def rounded(self, digits: int = 4) -> ErrorRates:
        """The same rates rounded as they are recorded."""
        return replace(self, wer=round(self.wer, digits), cer=round(self.cer, digits))

    @classmethod
    def from_dict(cls, d: dict) -> ErrorRates:
        return from_fields(cls, d)

    def to_dict(self) -> dict:
        return asdict(self.rounded())


def error_rates(reference: str, hypothesis: str) -> ErrorRates:
    """WER and CER of ``hypothesis`` against ``reference`` (both normalised first)."""
    import jiwer

    ref, hyp = normalise(reference), normalise(hypothesis)
    if not ref:
        raise ValueError("the reference is empty after normalisation")
    w = jiwer.process_words(ref, hyp if hyp else "")
    cer = jiwer.cer(ref, hyp) if hyp else 1.0
    return ErrorRates(w.wer, float(cer), len(ref.split()), w.substitutions, w.deletions, w.insertions)

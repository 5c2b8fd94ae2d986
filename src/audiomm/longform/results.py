"""What a run produces: one result per chunk, the merged text with its segments, and the coverage."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace

from audiomm.audio.chunking import Coverage
from audiomm.audio.speakers import SpeakerMap


@dataclass(frozen=True)
class Segment:
    """A span of the recording and the text for it (a chunk's text with overlaps removed)."""

    start_s: float
    end_s: float
    text: str
    speaker: str | None = None  # under --speakers, the one speaker of this span (a display name)


@dataclass
class ChunkResult:
    index: int
    start_s: float
    end_s: float
    text: str
    finish_reason: str
    cached: bool = False
    seconds: float = 0.0
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    flags: list[str] = field(default_factory=list)
    speaker: str | None = None  # under --speakers, the chunk's one speaker (None: several, or none)


@dataclass
class RunResult:
    file: str
    model: str
    backend: str
    preset: str
    kind: str
    text: str
    chunks: list[ChunkResult]
    coverage: Coverage
    warnings: list[str] = field(default_factory=list)
    segments: list[Segment] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    model_note: str = ""
    speakers: SpeakerMap | None = None  # under --speakers: the turns of the whole recording, their coverage

    def to_dict(self) -> dict:
        d = asdict(replace(self, speakers=None))
        d["speakers"] = self.speakers.to_dict() if self.speakers is not None else None
        return d


def fmt_ts(s: float, sep: str = ".") -> str:
    """A timestamp as HH:MM:SS.mmm (``sep`` before the milliseconds: "," for SRT)."""
    ms = int(round(s * 1000))
    h, ms = divmod(ms, 3_600_000)
    m, ms = divmod(ms, 60_000)
    sec, ms = divmod(ms, 1000)
    return f"{h:02d}:{m:02d}:{sec:02d}{sep}{ms:03d}"

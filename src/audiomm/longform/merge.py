"""Merge: chunk texts stitched in time order (transcripts), or reduced by the model (everything else)."""

from __future__ import annotations

import re

from audiomm.backends.base import Backend, Request
from audiomm.longform.map import ChunkPrompt
from audiomm.longform.results import ChunkResult, Segment, fmt_ts


def _norm(w: str) -> str:
    return re.sub(r"[^\w]", "", w.lower())


def stitch(prev: str, nxt: str, max_words: int) -> str:
    """Drop from ``nxt`` the words that repeat the end of ``prev`` (audio the two chunks share)."""
    a, b = prev.split(), nxt.split()
    best = 0
    for n in range(1, min(max_words, len(a), len(b)) + 1):
        if [_norm(w) for w in a[-n:]] == [_norm(w) for w in b[:n]]:
            best = n
    return " ".join(b[best:])


def segments(results: list[ChunkResult]) -> list[Segment]:
    """Chunk texts in time order; where two chunks share audio, the repeated words are dropped."""
    out: list[Segment] = []
    prev: ChunkResult | None = None
    for r in results:
        text = r.text
        if prev is not None and r.start_s < prev.end_s and out:
            overlap = prev.end_s - r.start_s
            text = stitch(out[-1].text, text, max_words=max(3, int(overlap * 5)))
        out.append(Segment(r.start_s, r.end_s, text))
        prev = r
    return out


def _groups(texts: list[str], budget: int) -> list[list[str]]:
    groups: list[list[str]] = [[]]
    for t in texts:
        if groups[-1] and sum(len(x) for x in groups[-1]) + len(t) > budget:
            groups.append([])
        groups[-1].append(t)
    return groups


def reduce(
    results: list[ChunkResult],
    template: str,
    backend: Backend,
    ask: ChunkPrompt,
    budget: int,
    warnings: list[str],
) -> str:
    """Hierarchical reduce: groups of chunk texts that fit ``budget`` characters, then their results,
    until one text is left. ``template`` holds ``{texts}``."""
    texts = [f"[{fmt_ts(r.start_s)[:8]}-{fmt_ts(r.end_s)[:8]}] {r.text}" for r in results if r.text]
    if not texts:
        return ""
    level = 0
    while len(texts) > 1 or level == 0:
        level += 1
        groups = _groups(texts, budget)
        if len(groups) > 1 and all(len(g) == 1 for g in groups) and level > 1:
            warnings.append("reduce: texts do not shrink below the context budget; joined as they are")
            return "\n\n".join(texts)
        reqs = [
            Request(template.replace("{texts}", "\n\n".join(g)), None, ask.system, ask.settings)
            for g in groups
        ]
        out = [""] * len(reqs)
        for n, resp in backend.generate(reqs):
            out[n] = resp.text
            if resp.finish_reason == "length":
                warnings.append(f"reduce level {level}: output hit the token limit")
        texts = out
    return texts[0]

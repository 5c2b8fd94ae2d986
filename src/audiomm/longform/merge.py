"""Merge: chunk texts stitched in time order (transcripts), or reduced by the model (everything else)."""

from __future__ import annotations

import re

from audiomm.backends.base import Backend, ContextExceeded, Request
from audiomm.knowledge import PROMPT_TOKENS, ModelSpec
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
        out.append(Segment(r.start_s, r.end_s, text, r.speaker))
        prev = r
    return out


def transcript_text(segs: list[Segment]) -> str:
    """A transcript from its segments: paragraphs in time order; with speakers, each paragraph one
    speaker's turn (``Name: text``), consecutive segments of one speaker joined."""
    paras: list[tuple[str | None, list[str]]] = []
    for s in (s for s in segs if s.text):
        if paras and s.speaker is not None and paras[-1][0] == s.speaker:
            paras[-1][1].append(s.text)
        else:
            paras.append((s.speaker, [s.text]))
    return "\n\n".join(f"{who}: {' '.join(t)}" if who else " ".join(t) for who, t in paras)


CHARS_PER_TOKEN = (
    3.0  # a cautious first guess (English runs ~4 characters per token); learned from the server
)


def budget_chars(spec: ModelSpec, output_tokens: int) -> int:
    """Characters of chunk texts one reduce request may carry: the context after prompt and output."""
    room = spec.context_tokens - PROMPT_TOKENS - output_tokens
    return max(MIN_BUDGET_CHARS, int(room * CHARS_PER_TOKEN))


MIN_BUDGET_CHARS = 100  # below this a merge is not worth asking for: the chunk texts are the result


def _pieces(text: str, budget: int) -> list[str]:
    """``text`` cut at spaces into pieces of at most ``budget`` characters (a long note is never dropped)."""
    out: list[str] = []
    while len(text) > budget:
        cut = text.rfind(" ", budget // 2, budget)
        cut = cut if cut > 0 else budget
        out.append(text[:cut])
        text = text[cut:].lstrip()
    return [*out, text]


def _groups(texts: list[str], budget: int) -> list[list[str]]:
    groups: list[list[str]] = [[]]
    for t in (p for text in texts for p in _pieces(text, budget)):
        if groups[-1] and sum(len(x) for x in groups[-1]) + len(t) > budget:
            groups.append([])
        groups[-1].append(t)
    return groups


def _smaller(budget: int, exc: ContextExceeded, longest: int, template_chars: int, output_tokens: int) -> int:
    """A budget that fits: from the server's own count when it gives one (characters per token of the
    refused prompt, the context less a share kept for the answer), else half."""
    if not (exc.prompt_tokens and exc.context_tokens):
        return budget // 2
    per_token = longest / exc.prompt_tokens
    prompt_room = exc.context_tokens - min(output_tokens, exc.context_tokens // 4)
    return min(int(prompt_room * per_token * 0.9) - template_chars, budget - 1)


def reduce(
    results: list[ChunkResult],
    template: str,
    backend: Backend,
    ask: ChunkPrompt,
    budget: int,
    warnings: list[str],
) -> str:
    """Hierarchical reduce: groups of chunk texts that fit ``budget`` characters, then their results, until
    one text is left. ``template`` holds ``{texts}``. A request the server finds over its context makes the
    groups smaller (the budget is learned from the server's count), never fails the run."""
    texts = [f"[{fmt_ts(r.start_s)[:8]}-{fmt_ts(r.end_s)[:8]}] {r.text}" for r in results if r.text]
    if not texts:
        return ""
    level = 0
    while len(texts) > 1 or level == 0:
        groups = _groups(texts, budget)
        if len(groups) > 1 and all(len(g) == 1 for g in groups) and level > 0:
            warnings.append("reduce: texts do not shrink below the context budget; joined as they are")
            return "\n\n".join(texts)
        reqs = [
            Request(template.replace("{texts}", "\n\n".join(g)), None, ask.system, ask.settings)
            for g in groups
        ]
        try:
            out = _answers(backend, reqs, level + 1, warnings)
        except ContextExceeded as exc:
            longest = max(len(r.prompt) for r in reqs)
            budget = _smaller(budget, exc, longest, len(template), ask.settings.max_new_tokens)
            if budget < MIN_BUDGET_CHARS:
                raise
            continue
        level += 1
        texts = out
    return texts[0]


def _answers(backend: Backend, reqs: list[Request], level: int, warnings: list[str]) -> list[str]:
    out = [""] * len(reqs)
    for n, resp in backend.generate(reqs):
        out[n] = resp.text
        if resp.finish_reason == "length":
            warnings.append(f"reduce level {level}: output hit the token limit")
    return out

"""The rubric judge: a text LLM behind any OpenAI-compatible server scores one answer on five dimensions.

The reply must be one JSON object with an integer 1-5 for each dimension (and a short rationale); it is
validated, and a malformed reply is retried once with the validation error quoted back. Every judgement
records the judge model, the prompt it was given, and the raw replies.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from audiomm.backends.base import Backend, GenerationSettings, Request
from audiomm.config import public_url
from audiomm.evaluate.records import append_jsonl, from_fields, read_jsonl
from audiomm.evaluate.runner import EvalResult, Recording, read_manifest, read_results
from audiomm.evaluate.suite import Task

DIMENSIONS = ("accuracy", "depth", "grounding", "relevance", "insight")
JUDGE_VERSION = "rubric-judge/1"
SYSTEM = "You are a strict, fair evaluator of answers about audio recordings. You reply with JSON only."
TEMPLATE = """Score an AI system's answer to a request about an audio recording.

## The task
{tests}

## The request the system was given
{prompt}

## Rubric for this task
{rubric}

## What is known about the recording (you cannot hear it)
{context}

## The system's answer
<answer>
{answer}
</answer>

Score the answer on five dimensions, each an integer from 1 (poor) to 5 (excellent):
- accuracy: its claims agree with what is known about the recording; nothing contradicts it
- depth: specific, detailed observations rather than generic statements
- grounding: claims are tied to evidence in the audio (quotes, times, audible cues), not invented
- relevance: it answers this request, without padding or drifting to other things
- insight: it notices what a careful human listener would, beyond the obvious
Use the rubric above for what a 5, 3 and 1 look like. An answer that invents details must get low \
accuracy and grounding. Where the known facts cannot settle a claim, judge its plausibility and specificity.

Reply with only this JSON object, no other text:
{{"accuracy": n, "depth": n, "grounding": n, "relevance": n, "insight": n, "rationale": "one or two sentences"}}"""
RETRY = """Your reply could not be used: {error}
Reply again with only the JSON object: {"accuracy": n, "depth": n, "grounding": n, "relevance": n, \
"insight": n, "rationale": "..."} where each n is an integer from 1 to 5."""


class Scores(BaseModel):
    """Integers 1-5 ("4" and 4.0 pass as 4; 4.5, true or 6 do not); other keys are ignored."""

    model_config = ConfigDict(extra="ignore")
    accuracy: int = Field(ge=1, le=5)
    depth: int = Field(ge=1, le=5)
    grounding: int = Field(ge=1, le=5)
    relevance: int = Field(ge=1, le=5)
    insight: int = Field(ge=1, le=5)
    rationale: str = ""

    @field_validator(*DIMENSIONS, mode="before")
    @classmethod
    def _no_bool(cls, v):
        if isinstance(v, bool):
            raise ValueError("a score must be an integer from 1 to 5, not true/false")
        return v


class JudgeReplyError(ValueError):
    """A judge reply that is not one valid scores object."""


def _json_object(text: str) -> str:
    """The first balanced {...} in ``text`` (code fences and prose around it are ignored)."""
    start = text.find("{")
    if start < 0:
        raise JudgeReplyError("no JSON object in the reply")
    depth, in_str, esc = 0, False, False
    for i in range(start, len(text)):
        ch = text[i]
        if in_str:
            if esc:
                esc = False
            elif ch == "\\":
                esc = True
            elif ch == '"':
                in_str = False
        elif ch == '"':
            in_str = True
        elif ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return text[start : i + 1]
    raise JudgeReplyError("the JSON object is not closed (truncated reply?)")


def parse_reply(text: str) -> Scores:
    """One validated scores object from a judge's reply, or :class:`JudgeReplyError` saying what is wrong."""
    raw = _json_object(text)
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise JudgeReplyError(f"invalid JSON ({exc.msg} at char {exc.pos})") from None
    if not isinstance(data, dict):
        raise JudgeReplyError("the JSON is not an object")
    data = {k.lower().strip(): v for k, v in data.items()}
    try:
        return Scores.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise JudgeReplyError(problems) from None


@dataclass
class Judgement:
    """The judge's verdict on one result: a line of ``judgements.jsonl``, with all it was asked and said."""

    key: str  # the result judged
    judge_model: str
    judge_base_url: str
    judge_version: str
    prompt_sha256: str
    prompt: str
    valid: bool
    scores: dict[str, int] = field(default_factory=dict)
    overall: float | None = None
    rationale: str = ""
    error: str = ""
    attempts: int = 0
    replies: list[str] = field(default_factory=list)

    @classmethod
    def from_dict(cls, d: dict) -> Judgement:
        return from_fields(cls, d)

    def to_dict(self) -> dict:
        return asdict(self)


def build_prompt(task: Task, context: str, answer: str) -> str:
    """The judge's prompt: the task, its rubric, what is known about the recording, and the answer."""
    fill = {"tests": task.tests, "prompt": task.prompt, "rubric": task.rubric, "context": context}
    fill["answer"] = answer.strip()
    # one pass: what is filled in (answers may contain braces) is never filled again
    out = re.sub(r"\{\{|\}\}|\{(\w+)\}", lambda m: fill[m[1]] if m[1] else m[0][0], TEMPLATE)
    return out


def judge(backend: Backend, key: str, prompt: str, *, max_new_tokens: int = 400) -> Judgement:
    """Ask once; if the reply is malformed, ask once more with the error quoted; record everything."""
    settings = GenerationSettings(max_new_tokens=max_new_tokens, temperature=0.0, seed=0)
    digest = hashlib.sha256(prompt.encode()).hexdigest()
    where = public_url(backend.endpoint)
    j = Judgement(key, backend.model, where, JUDGE_VERSION, digest, prompt, valid=False)
    current = prompt
    for attempt in (1, 2):
        j.attempts = attempt
        [(_, resp)] = list(backend.generate([Request(current, None, SYSTEM, settings)]))
        j.replies.append(resp.text)
        try:
            s = parse_reply(resp.text)
        except JudgeReplyError as exc:
            j.error = str(exc)
            retry = RETRY.replace("{error}", str(exc))
            current = f"{prompt}\n\nYour previous reply:\n{resp.text[:2000]}\n\n{retry}"
            continue
        j.valid, j.error, j.rationale = True, "", s.rationale
        j.scores = {d: getattr(s, d) for d in DIMENSIONS}
        j.overall = round(sum(j.scores.values()) / len(DIMENSIONS), 3)
        break
    return j


# --------------------------------------------------------------------------- judging an eval directory


def context(recording: Recording | None, audio_s: float | None) -> str:
    """What the judge is told about the recording: duration, reference transcript, notes."""
    lines = [f"Duration: {audio_s:.1f} s." if audio_s else ""]
    if recording and recording.reference:
        lines.append(f"Reference transcript (verbatim, by a human):\n{recording.reference}")
    if recording and recording.notes:
        lines.append(f"Notes about the recording:\n{recording.notes}")
    if len(lines) == 1:
        lines.append("Nothing else is known: judge plausibility, specificity and internal consistency.")
    return "\n\n".join(x for x in lines if x)


def read_judgements(out_dir: Path) -> dict[str, Judgement]:
    """The judgements of an eval directory by result key (the last good line of each)."""
    return read_jsonl(Path(out_dir) / "judgements.jsonl", Judgement.from_dict)


def judge_eval(
    out_dir: Path,
    backend: Backend,
    *,
    on_item: Callable[[Judgement, int, int], None] | None = None,
    again: bool = False,
) -> list[Judgement]:
    """Judge every ok result of a rubric task that has no valid judgement yet (``again``: re-judge all)."""
    out_dir = Path(out_dir)
    m = read_manifest(out_dir)
    tasks = {t.name: t for t in m.tasks if t.score == "judge"}
    recs = {r.name: r for r in m.recordings}
    have = read_judgements(out_dir)
    todo = [r for r in read_results(out_dir).values() if r.status == "ok" and r.task in tasks]
    if not again:
        todo = [r for r in todo if not (r.key in have and have[r.key].valid)]
    new = []
    for n, r in enumerate(todo, 1):
        j = judge(backend, r.key, _prompt(r, tasks[r.task], recs.get(r.recording)))
        append_jsonl(out_dir / "judgements.jsonl", j.to_dict())
        new.append(j)
        if on_item:
            on_item(j, n, len(todo))
    return new


def _prompt(result: EvalResult, task: Task, recording: Recording | None) -> str:
    return build_prompt(task, context(recording, result.audio_s), result.text or "(empty answer)")

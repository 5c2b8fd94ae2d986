"""The prompt suite: one TOML file per task (what it tests, the prompt, the rubric), bundled or your own."""

from __future__ import annotations

import sys
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path

from audiomm.errors import AudiommError
from audiomm.evaluate.records import from_fields
from audiomm.paths import read_user_text
from audiomm.safepath import check_name
from audiomm.tasks import presets as presets_mod

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

SCORES = ("judge", "wer")
REDUCE = """These are answers to the same request for consecutive parts of one recording, in order. Combine them \
into one answer to the request below, keeping every specific observation and its time; do not invent anything.

Request: {prompt}

Answers, in order:
{texts}"""


@dataclass(frozen=True)
class Task:
    """One task of the suite: what it tests, the prompt a system is given, and how its answers are scored."""

    name: str
    tests: str  # what it tests
    prompt: str
    rubric: str
    score: str = "judge"  # judge: the rubric judge | wer: WER/CER against the recording's reference
    preset: str | None = None  # a preset by name instead of the prompt (the transcript task)
    system: str | None = None
    no_vad: bool = False  # fixed windows over everything (non-speech sounds matter)
    source: str = "bundled"

    @classmethod
    def from_dict(cls, d: dict) -> Task:
        """A task as ``eval.json`` records it."""
        return from_fields(cls, d)

    def to_dict(self) -> dict:
        return asdict(self)

    def to_preset(self) -> presets_mod.Preset:
        """The preset that audiomm's runner runs for this task."""
        if self.preset:
            return presets_mod.get(self.preset)
        return presets_mod.Preset(
            name=f"eval:{self.name}",
            kind="analysis",
            description=self.tests,
            system=self.system,
            chunk_prompt=self.prompt,
            reduce_prompt=REDUCE.replace("{prompt}", self.prompt),
            source=self.source,
        )


def _load(path: Path, source: str) -> Task:
    try:
        d = tomllib.loads(read_user_text(path, "task file"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise AudiommError(f"{path}: not a valid task file ({exc})") from None
    missing = [k for k in ("tests", "prompt", "rubric") if not isinstance(d.get(k), str) or not d[k].strip()]
    if missing:
        raise AudiommError(f"{path}: a task needs {', '.join(missing)} (text)")
    score = d.get("score", "judge")
    if score not in SCORES:
        raise AudiommError(f"{path}: score must be one of {', '.join(SCORES)}, not {score!r}")
    return Task(
        name=check_name(d.get("name") or path.stem, f"{path}: task name"),
        tests=d["tests"].strip(),
        prompt=d["prompt"].strip(),
        rubric=d["rubric"].strip(),
        score=score,
        preset=d.get("preset"),
        system=d.get("system"),
        no_vad=bool(d.get("no_vad", False)),
        source=source,
    )


def load_suite(extra: Path | None = None) -> dict[str, Task]:
    """The bundled tasks, then the ``*.toml`` files of ``extra`` (a file of the same name overrides)."""
    out: dict[str, Task] = {}
    bundled = resources.files("audiomm.evaluate").joinpath("suite")
    for f in sorted(bundled.iterdir(), key=lambda f: f.name):
        if f.name.endswith(".toml"):
            t = _load(Path(str(f)), "bundled")
            out[t.name] = t
    if extra is not None:
        if not extra.is_dir():
            raise AudiommError(f"--suite-dir {extra}: not a directory")
        for f in sorted(extra.glob("*.toml")):
            t = _load(f, str(f))
            out[t.name] = t
    return out


def select(suite: dict[str, Task], names: str | None) -> list[Task]:
    """Tasks by comma-separated names ("all" or None: every task)."""
    if not names or names == "all":
        return list(suite.values())
    picked = []
    for n in (x.strip() for x in names.split(",") if x.strip()):
        if n not in suite:
            raise AudiommError(f"unknown task {n!r}; 'audiomm eval tasks' lists them")
        picked.append(suite[n])
    return picked

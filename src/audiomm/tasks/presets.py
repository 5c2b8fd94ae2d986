"""Presets are TOML files: the bundled ones, then the user's (``--presets-dir``, ``AUDIOMM_PRESETS``,
``<data dir>/presets``), a user file overriding a bundled one of the same name."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path

from audiomm.errors import AudiommError
from audiomm.paths import data_dir, read_user_text

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

KINDS = ("transcript", "summary", "analysis")
CUSTOM = "cli"  # the source of a preset made from a prompt (--prompt, or a gateway request's prompt)


@dataclass(frozen=True)
class Preset:
    name: str
    kind: str  # transcript: stitched in time order | summary/analysis: reduced by the model
    description: str
    system: str | None
    chunk_prompt: str
    reduce_prompt: str | None = None
    needs_template: bool = False
    source: str = "bundled"
    verbatim: bool = False  # the answer is the words as spoken (the classic pipeline returns Whisper's text)

    def render(self, text: str, template: str | None) -> str:
        if "{template}" in text and template is None:
            raise AudiommError(f"preset {self.name!r} needs a template: pass --template FILE")
        return text.replace("{template}", template or "")


def _load(path: Path, source: str) -> Preset:
    try:
        d = tomllib.loads(read_user_text(path))
    except tomllib.TOMLDecodeError as exc:
        raise AudiommError(f"{path}: not a valid preset file ({exc}); fix or remove it") from None
    name = d.get("name") or path.stem
    kind = d.get("kind", "summary")
    if kind not in KINDS or not isinstance(d.get("chunk_prompt"), str):
        raise AudiommError(f"{path}: a preset needs chunk_prompt and kind in {', '.join(KINDS)}")
    if kind != "transcript" and not isinstance(d.get("reduce_prompt"), str):
        raise AudiommError(f"{path}: a {kind} preset needs a reduce_prompt with {{texts}}")
    return Preset(
        name=name,
        kind=kind,
        description=d.get("description", ""),
        system=d.get("system") or None,
        chunk_prompt=d["chunk_prompt"],
        reduce_prompt=d.get("reduce_prompt"),
        needs_template=bool(d.get("needs_template", False)),
        source=source,
        verbatim=bool(d.get("verbatim", False)),
    )


def user_dirs(extra: Path | None = None) -> list[Path]:
    dirs = [data_dir() / "presets"]
    if os.environ.get("AUDIOMM_PRESETS"):
        dirs.append(Path(os.environ["AUDIOMM_PRESETS"]))
    if extra is not None:
        if not extra.is_dir():
            raise AudiommError(f"--presets-dir {extra}: not a directory")
        dirs.append(extra)
    return dirs


Warn = Callable[[str], None]  # told about each user preset file that is skipped


def load_presets(extra: Path | None = None) -> tuple[dict[str, Preset], dict[str, str]]:
    """The presets by name (bundled, then the user's over them) and the user files that could not be
    read, by file stem, with why. A bundled preset that cannot be read is an error."""
    out: dict[str, Preset] = {}
    bad: dict[str, str] = {}
    for f in sorted(resources.files("audiomm.tasks").joinpath("presets").iterdir(), key=lambda f: f.name):
        if f.name.endswith(".toml"):
            p = _load(Path(str(f)), "bundled")
            out[p.name] = p
    for d in user_dirs(extra):
        if d.is_dir():
            for f in sorted(d.glob("*.toml")):
                try:
                    p = _load(f, str(f))
                except AudiommError as exc:
                    bad[f.stem] = str(exc)
                    continue
                out[p.name] = p
    return out, bad


def all_presets(extra: Path | None = None, on_skip: Warn | None = None) -> dict[str, Preset]:
    """Every preset; a user file that cannot be read is skipped (``on_skip`` is told why)."""
    presets, bad = load_presets(extra)
    _skipped(bad, on_skip)
    return presets


def _skipped(bad: dict[str, str], on_skip: Warn | None) -> None:
    for why in bad.values() if on_skip else ():
        on_skip(f"{why}; skipped")


def get(name: str, extra: Path | None = None, on_skip: Warn | None = None) -> Preset:
    """The preset called ``name``; a user file of that name that cannot be read is the error, any other
    is skipped (``on_skip`` is told why)."""
    presets, bad = load_presets(extra)
    if name in bad:
        raise AudiommError(bad[name])
    if name not in presets:
        unread = f"; unreadable preset files skipped: {', '.join(bad)}" if bad else ""
        raise AudiommError(
            f"unknown preset {name!r}; 'audiomm presets' lists them ({', '.join(presets)}){unread}"
        )
    _skipped(bad, on_skip)
    return presets[name]


def custom(system: str | None, prompt: str, kind: str = "summary") -> Preset:
    """A preset from --system/--prompt: each chunk gets the prompt; a summary reduces with it."""
    reduce = f"{prompt}\n\nThe recording was processed in consecutive parts; here are the results, in order:\n{{texts}}"
    return Preset(
        "custom",
        kind,
        "from --prompt",
        system,
        prompt,
        None if kind == "transcript" else reduce,
        source=CUSTOM,
    )


def resolve(
    name: str | None = "transcript",
    *,
    prompt: str | None = None,
    system: str | None = None,
    presets_dir=None,
    on_skip: Warn | None = None,
) -> Preset:
    """The preset a run uses: a named one (``system`` overrides its system prompt), or one made from your
    ``prompt`` (a named preset then lends its system prompt and kind)."""
    if prompt:
        base = get(name, presets_dir, on_skip) if name and name != "transcript" else None
        sys_prompt = system if system is not None else (base.system if base else None)
        return custom(sys_prompt, prompt, base.kind if base else "summary")
    p = get(name or "transcript", presets_dir, on_skip)
    return replace(p, system=system) if system is not None else p

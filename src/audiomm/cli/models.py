"""``audiomm models ...``: what the knowledge base knows about each model line and checkpoint, every fact with its
source, and the window audiomm chunks at (on each runtime)."""

from __future__ import annotations

from typing import Any

import typer

from audiomm.cli.console import warn
from audiomm.cli.present import print_json, show
from audiomm.errors import AudiommError

app = typer.Typer(
    no_args_is_help=True, help="The model knowledge base: facts with sources, windows on each runtime."
)

RUNTIMES = ("transformers", "vllm", "llama.cpp", "ollama")
RUNTIME_FACTS = {"transformers": "transformers", "vllm": "vllm", "llama.cpp": "llama_cpp", "ollama": "ollama"}
# A transcript's fixed part in tokens; the rest grows with the audio (SPOKEN_TOKENS_PER_S).
TRANSCRIPT_OUTPUT_TOKENS = 64


# --------------------------------------------------------------------------- records


def resolve(ident: str):
    """The entry ``ident`` names: a series or model id exactly, else what :func:`find` matches (a Hub repo id, a
    catalog family name, a GGUF repo, an Ollama tag)."""
    from audiomm import knowledge

    low = ident.lower()
    exact = next((e for e in (*knowledge.models(), *knowledge.series()) if e.id.lower() == low), None)
    entry = exact or knowledge.find(ident)
    if entry is None:
        raise AudiommError(
            f"no model line or checkpoint in the knowledge base matches {ident!r}; "
            "try 'audiomm models list' (a Hub repo id, a family name, an Ollama tag or a series id)"
        )
    return entry


def spec_of(ident: str, entry, runtime: str | None = None):
    """How audiomm runs ``ident`` (on ``runtime``): :func:`spec_for`, or the entry's own spec where the id of a
    series is also matched by one of its checkpoints."""
    from audiomm.knowledge import find, spec_for

    return spec_for(ident, runtime=runtime) if find(ident) is entry else entry.spec(runtime)


def windows(spec) -> dict[str, dict[str, Any]]:
    """The window for an answer of the default length, and for a transcript that grows with the audio."""
    from audiomm.knowledge import SPOKEN_TOKENS_PER_S

    answer = spec.window()
    transcript = spec.window(output_tokens=TRANSCRIPT_OUTPUT_TOKENS, output_per_s=SPOKEN_TOKENS_PER_S)
    return {
        "window_s": {"value": answer.seconds, "reason": answer.reason},
        "transcription_window_s": {"value": transcript.seconds, "reason": transcript.reason},
    }


def facts(entry) -> dict[str, dict[str, Any]]:
    """Every fact of ``entry`` (its series' included) under its stable key, with its source."""
    from audiomm.knowledge.loader import FACT_KEYS

    out = {}
    for key in FACT_KEYS:
        f = entry.fact(key)
        if f is not None:
            out[key] = {"value": list(f.value) if isinstance(f.value, tuple) else f.value, "source": f.source}
    return out


def record(ident: str) -> dict[str, Any]:
    """What ``audiomm models show ID --json`` prints."""
    ident = ident.strip()
    entry = resolve(ident)
    spec = spec_of(ident, entry)
    data = {
        "id": entry.id,
        "kind": entry.kind,
        "name": entry.name,
        "series": entry.series,
        "known": spec.known,
        "match": entry.match,
        "model_types": list(entry.model_types),
        "facts": facts(entry),
        **windows(spec),
        "windows": {r: windows(spec_of(ident, entry, r)) for r in RUNTIMES},
    }
    if not spec.known:
        data["note"] = unknown_note(entry, spec)
    return data


def unknown_note(entry, spec) -> str:
    """Why the safe default applies to ``entry``: what the knowledge base lacks to run it."""
    from audiomm.knowledge.loader import RUNTIME_KEYS

    missing = [k for k in RUNTIME_KEYS if entry.fact(k) is None]
    return (
        f"the knowledge base has no {', '.join(missing)} for it: audiomm uses the safe default window "
        f"({spec.window_s:g} s); pass --max-chunk-seconds if you know better"
    )


def runtimes_of(entry) -> list[str]:
    """The runtimes the knowledge base says serve it (a false or missing fact: not listed)."""
    return [r for r in RUNTIMES if entry.get(RUNTIME_FACTS[r])]


def row(entry) -> dict[str, Any]:
    """One line of ``audiomm models list --json``."""
    spec = entry.spec()
    return {
        "id": entry.id,
        "kind": entry.kind,
        "series": entry.series,
        "known": spec.known,
        "window_s": spec.window_s,
        "audio_tokens_per_s": entry.get("audio_tokens_per_s"),
        "context_tokens": entry.get("context_tokens"),
        "processor": entry.get("processor"),
        "params": entry.get("params"),
        "runtimes": runtimes_of(entry),
    }


def entries() -> list:
    """Each series followed by its checkpoints, in the knowledge base's order."""
    from audiomm import knowledge

    ordered = []
    for s in knowledge.series():
        ordered += [s, *(m for m in knowledge.models() if m.series == s.id)]
    return ordered


# --------------------------------------------------------------------------- commands


def _num(v: Any) -> str:
    return "" if v is None else f"{v:g}"


def _params(v: Any) -> str:
    return "" if v is None else f"{v / 1e9:.3g} B"


@app.command("list")
def list_cmd(as_json: bool = typer.Option(False, "--json", help="Print JSON.")):
    """Every model line (series) and released checkpoint, with the window audiomm chunks at."""
    rows = [row(e) for e in entries()]
    if as_json:
        print_json(rows)
        return
    table = [
        (
            r["id"] if r["kind"] == "series" else f"  {r['id']}",
            r["series"],
            f"{r['window_s']:g}" + ("" if r["known"] else " (default)"),
            _num(r["audio_tokens_per_s"]),
            _num(r["context_tokens"]),
            r["processor"] or "",
            _params(r["params"]),
            ", ".join(r["runtimes"]),
        )
        for r in rows
    ]
    columns = ("id", "series", "window s", "audio tok/s", "context", "processor", "params", "runtimes")
    show(
        f"{len(rows)} model lines and checkpoints ('audiomm models show ID' for the sources)",
        columns,
        table,
        right=("window s", "audio tok/s", "context", "params"),
    )


@app.command("show")
def show_cmd(
    ident: str = typer.Argument(
        ..., metavar="ID", help="A Hub repo id, a catalog family name, an Ollama tag or a series id."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
):
    """Every fact with its source, and the window for an answer and for a transcript on each runtime."""
    data = record(ident)
    if as_json:
        print_json(data)
        return
    title = f"{data['id']} ({data['kind']} of {data['series']})" if data["kind"] == "model" else data["id"]
    rows = [(k, _value(k, f["value"]), f["source"]) for k, f in data["facts"].items()]
    show(f"{title}: {data['name']}", ("fact", "value", "source"), rows)
    runs = [("any", data)] + [(r, data["windows"][r]) for r in RUNTIMES]
    table = [
        (
            name,
            f"{w['window_s']['value']:g}",
            f"{w['transcription_window_s']['value']:g}",
            w["window_s"]["reason"],
        )
        for name, w in runs
    ]
    columns = ("runtime", "window s", "transcript s", "what sets the window")
    show("windows audiomm chunks at", columns, table, right=("window s", "transcript s"))
    if data.get("note"):
        warn(data["note"], "note")


def _value(key: str, v: Any) -> str:
    if isinstance(v, list):
        return "; ".join(str(x) for x in v)
    return _params(v) if key == "params" else str(v)

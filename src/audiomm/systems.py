"""Systems files: named models behind backends, for ``audiomm eval`` and ``audiomm serve``.

    [[system]]
    name = "qwen2-audio"                  # letters, digits, . _ + - (it names folders and API models)
    backend = "openai"                    # any BackendConfig field: model, base_url, api_key_env, ...
    model = "Qwen/Qwen2-Audio-7B-Instruct"
    base_url = "http://localhost:8000/v1"
    base_urls = ["http://gpu2:8000/v1"]   # more replicas of the model: each request to the least busy
    api_key_env = "VLLM_API_KEY"          # the variable that holds the key: keys never go in files
    llm = "..."                           # classic: the text LLM (llm_backend: openai | transformers)
    max_chunk_seconds = 20                # run options this system overrides (max_new_tokens too)

``${VARS}`` and ``~`` are expanded; ``./`` and ``../`` paths are relative to the file.
"""

from __future__ import annotations

import re
import sys
import typing
from dataclasses import dataclass, fields
from pathlib import Path

from pydantic import ConfigDict, ValidationError, create_model, field_validator

from audiomm.config import BackendConfig, RunOptions, with_llm
from audiomm.errors import AudiommError
from audiomm.paths import expand, read_user_text

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

RUN_KEYS = ("max_chunk_seconds", "max_new_tokens")  # RunOptions a system may set
NOT_IN_FILES = ("api_key", "llm")  # keys never go in files; llm is given by name (+ llm_backend)


@dataclass(frozen=True)
class System:
    """A named configuration: the backend it runs on and the run options it sets."""

    name: str
    config: BackendConfig
    options: RunOptions

    def public(self) -> dict:
        """What may be recorded about the system: everything but secrets (the key's variable name is fine)."""
        runs = {k: getattr(self.options, k) for k in RUN_KEYS if getattr(self.options, k) is not None}
        return {"name": self.name, **self.config.public(), **runs}


def _safe_name(cls, v: str) -> str:
    if not re.fullmatch(r"[\w.+-]+", v) or v in (".", ".."):
        raise ValueError("use letters, digits and . _ + - only (it names a folder)")
    return v


def _row_model():
    """The pydantic model of one [[system]] table, made from BackendConfig and RunOptions themselves (so
    no field or default is written twice); every key but name and model is optional."""
    hints = {**typing.get_type_hints(BackendConfig), **typing.get_type_hints(RunOptions)}
    keys = [f.name for f in fields(BackendConfig) if f.name not in NOT_IN_FILES] + list(RUN_KEYS)
    spec = {k: (hints[k] | None, None) for k in keys if k not in ("name", "model")}
    return create_model(
        "System",
        __config__=ConfigDict(extra="forbid"),
        __validators__={"name_ok": field_validator("name")(_safe_name)},
        name=(str, ...),
        model=(str, ...),
        llm=(str | None, None),
        llm_backend=(str | None, None),
        **spec,
    )


Row = _row_model()


def _system(row: dict) -> System:
    given = Row.model_validate(row).model_dump(exclude_unset=True)
    llm, llm_backend = given.pop("llm", None), given.pop("llm_backend", None)
    run = {k: given.pop(k) for k in RUN_KEYS if k in given}
    name = given.pop("name")
    return System(name, with_llm(BackendConfig(**given), llm, llm_backend), RunOptions(**run))


def expanded(value: object, base: Path) -> object:
    """A value of a systems file with its text expanded (:func:`~audiomm.paths.expand`), in lists too."""
    if isinstance(value, str):
        return expand(value, base)
    if isinstance(value, list):
        return [expanded(v, base) for v in value]
    return value


def load_systems(path: Path, flag: str = "--systems") -> list[System]:
    """The systems of a TOML file; one clear line for anything wrong in it."""
    try:
        d = tomllib.loads(read_user_text(path, flag))
    except OSError as exc:
        raise AudiommError(f"{flag} {path}: {exc.strerror}") from None
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise AudiommError(f"{flag} {path}: not valid TOML ({exc})") from None
    rows = d.get("system")
    if not isinstance(rows, list) or not rows:
        raise AudiommError(f"{flag} {path}: no [[system]] tables (each needs name and model)")
    out = []
    for i, row in enumerate(rows, 1):
        if isinstance(row, dict):
            row = {k: v if k == "name" else expanded(v, path.parent) for k, v in row.items()}
        try:
            out.append(_system(row))
        except ValidationError as exc:
            e = exc.errors()[0]
            where = ".".join(map(str, e["loc"])) or "table"
            raise AudiommError(f"{flag} {path}: system {i}: {where}: {e['msg']}") from None
        except AudiommError as exc:
            raise AudiommError(f"{flag} {path}: system {i}: {exc}") from None
    names = [s.name for s in out]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise AudiommError(f"{flag} {path}: system names must be unique ({', '.join(dup)})")
    return out

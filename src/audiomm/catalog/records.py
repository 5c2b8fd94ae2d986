"""Typed records of the catalog, and tolerant parsing of what the Hub (or an export) returns.

A record that cannot be trusted (hostile id, wrong types, absurd numbers) raises
:class:`BadRecord` with a one-line reason; missing fields and nulls just become defaults.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field
from typing import Any

# Hub repo ids: "owner/name", ASCII letters, digits, "-", "_", "."; no "..", no leading "." or "-".
_REPO_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,95}/[A-Za-z0-9_][A-Za-z0-9_.-]{0,95}")
MAX_DOWNLOADS = 10**13  # more than every download the Hub has ever served
MAX_PARAMS = 10**14  # 100 T parameters: anything above is a corrupt value
MAX_BYTES = 10**16  # 10 PB


class BadRecord(ValueError):
    """A record that is skipped, with the reason in one line."""


def valid_repo_id(value: object) -> bool:
    return isinstance(value, str) and bool(_REPO_ID.fullmatch(value)) and ".." not in value


@dataclass
class FileEntry:
    name: str
    size: int | None = None


@dataclass
class BaseModelRef:
    relation: str  # quantized | finetune | adapter | merge | base
    id: str


class RepoId:
    """``owner`` and ``name`` of a record's ``id`` ("owner/name")."""

    id: str

    @property
    def name(self) -> str:
        return self.id.split("/", 1)[1]

    @property
    def owner(self) -> str:
        return self.id.split("/", 1)[0]


@dataclass
class RawModel(RepoId):
    """One repo as fetched, normalised to types but not interpreted."""

    id: str
    author: str | None = None
    sha: str | None = None
    pipeline_tag: str | None = None
    downloads: int = 0
    likes: int = 0
    tags: list[str] = field(default_factory=list)
    library_name: str | None = None
    gated: str = "no"  # no | auto | manual
    created_at: str | None = None
    last_modified: str | None = None
    params: int | None = None  # what the repo's own weights hold (safetensors total)
    params_by_dtype: dict[str, int] = field(default_factory=dict)
    tensor_types: list[str] = field(default_factory=list)
    storage_bytes: int | None = None
    architectures: list[str] = field(default_factory=list)
    model_type: str | None = None
    config: dict[str, Any] = field(default_factory=dict)
    gguf: dict[str, Any] | None = None
    files: list[FileEntry] | None = None
    license: str | None = None
    languages: list[str] = field(default_factory=list)
    base_models: list[BaseModelRef] = field(default_factory=list)
    custom_code: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# --------------------------------------------------------------------------- helpers


def _count(value: object, what: str, limit: int, default: int | None = 0) -> int | None:
    """A non-negative integer count, or BadRecord. ``None`` -> default."""
    if value is None:
        return default
    if isinstance(value, bool):
        raise BadRecord(f"{what} is a boolean ({value!r})")
    if isinstance(value, float):
        if not math.isfinite(value) or value != int(value):
            raise BadRecord(f"{what} is not a whole number ({value!r})")
        value = int(value)
    if isinstance(value, str):
        if not value.strip().isdigit():
            raise BadRecord(f"{what} is not a number ({value[:40]!r})")
        value = int(value.strip())
    if not isinstance(value, int):
        raise BadRecord(f"{what} has type {type(value).__name__}")
    if value < 0:
        raise BadRecord(f"{what} is negative ({value})")
    if value > limit:
        raise BadRecord(f"{what} is implausibly large ({value:.3g})")
    return value


def _str(value: object, what: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadRecord(f"{what} is not a string ({type(value).__name__})")
    return value


def _str_list(value: object, what: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list):
        raise BadRecord(f"{what} is not a list ({type(value).__name__})")
    return [v for v in value if isinstance(v, str)]


def _gated(value: object) -> str:
    if value in (None, False, "false", "False", ""):
        return "no"
    if value is True:
        return "auto"
    if isinstance(value, str):
        return value.lower()
    raise BadRecord(f"gated has unexpected value {value!r}")


_LANG = re.compile(r"^[a-z]{2,3}$")
_NOT_LANGS = {"mit", "gpl", "art", "vqa", "asr", "vad", "tts", "llm", "mlx", "awq", "nlp"}


def languages_from_tags(tags: list[str]) -> list[str]:
    return [t for t in tags if _LANG.match(t) and t not in _NOT_LANGS]


def licence_from_tags(tags: list[str]) -> str | None:
    for t in tags:
        if t.startswith("license:"):
            return t.split(":", 1)[1]
    return None


def base_models_from_tags(tags: list[str]) -> list[BaseModelRef]:
    """``base_model:quantized:X`` -> (quantized, X); a bare ``base_model:X`` is kept as (base, X)."""
    typed: list[BaseModelRef] = []
    bare: list[str] = []
    for t in tags:
        if not t.startswith("base_model:"):
            continue
        parts = t.split(":")
        if len(parts) == 3 and valid_repo_id(parts[2]):
            typed.append(BaseModelRef(parts[1], parts[2]))
        elif len(parts) == 2 and valid_repo_id(parts[1]):
            bare.append(parts[1])
    typed_ids = {b.id for b in typed}
    return typed + [BaseModelRef("base", b) for b in bare if b not in typed_ids]


def _check_id(value: object) -> str:
    if not isinstance(value, str):
        raise BadRecord(f"record without a string id ({type(value).__name__})")
    if not valid_repo_id(value):
        shown = value[:60].encode("ascii", "backslashreplace").decode()
        raise BadRecord(f"invalid repo id {shown!r}")
    return value


def _common(rm: RawModel) -> RawModel:
    rm.license = rm.license or licence_from_tags(rm.tags)
    if not rm.languages:
        rm.languages = languages_from_tags(rm.tags)
    rm.base_models = rm.base_models or base_models_from_tags(rm.tags)
    rm.custom_code = rm.custom_code or "custom_code" in rm.tags
    return rm


# --------------------------------------------------------------------------- Hub API shape


def parse_api_record(d: object) -> RawModel:
    """Parse one item of ``GET /api/models?expand=...`` (or ``/api/models/{id}``)."""
    if not isinstance(d, dict):
        raise BadRecord(f"record is a {type(d).__name__}, not an object")
    rid = _check_id(d.get("id", d.get("modelId")))
    try:
        tags = _str_list(d.get("tags"), "tags")
        rm = RawModel(
            id=rid,
            author=_str(d.get("author"), "author"),
            sha=_str(d.get("sha"), "sha"),
            pipeline_tag=_str(d.get("pipeline_tag"), "pipeline_tag"),
            downloads=_count(d.get("downloads"), "downloads", MAX_DOWNLOADS) or 0,
            likes=_count(d.get("likes"), "likes", MAX_DOWNLOADS) or 0,
            tags=tags,
            library_name=_str(d.get("library_name"), "library_name"),
            gated=_gated(d.get("gated")),
            created_at=_str(d.get("createdAt"), "createdAt"),
            last_modified=_str(d.get("lastModified"), "lastModified"),
            storage_bytes=_count(d.get("usedStorage"), "usedStorage", MAX_BYTES, default=None),
        )
        _read_safetensors(rm, d.get("safetensors"))
        _read_config_files_card(rm, d)
    except BadRecord as exc:
        raise BadRecord(f"{rid}: {exc}") from None
    return _common(rm)


def _read_safetensors(rm: RawModel, st: object) -> None:
    """Parameter counts per dtype and in total, from the ``safetensors`` field."""
    if st is None:
        return
    if not isinstance(st, dict):
        raise BadRecord("safetensors is not an object")
    by_dtype = st.get("parameters") or {}
    if not isinstance(by_dtype, dict):
        raise BadRecord("safetensors.parameters is not an object")
    rm.params_by_dtype = {
        str(k): _count(v, f"safetensors.parameters[{k}]", MAX_PARAMS) or 0 for k, v in by_dtype.items()
    }
    rm.tensor_types = list(rm.params_by_dtype)
    total = st.get("total")
    rm.params = (
        _count(total, "safetensors.total", MAX_PARAMS, default=None)
        if total is not None
        else (sum(rm.params_by_dtype.values()) or None)
    )


def _read_config_files_card(rm: RawModel, d: dict) -> None:
    """What the config, GGUF metadata, file list and model card add."""
    cfg = d.get("config")
    if isinstance(cfg, dict):
        rm.config = cfg
        rm.architectures = _str_list(cfg.get("architectures"), "config.architectures")
        mt = cfg.get("model_type")
        rm.model_type = mt if isinstance(mt, str) else None
    gg = d.get("gguf")
    if isinstance(gg, dict):
        rm.gguf = gg
    sib = d.get("siblings")
    if isinstance(sib, list):
        rm.files = [
            FileEntry(s["rfilename"], _count(s.get("size"), "siblings.size", MAX_BYTES, default=None))
            for s in sib
            if isinstance(s, dict) and isinstance(s.get("rfilename"), str)
        ]
    card = d.get("cardData")
    if isinstance(card, dict):
        lic = card.get("license")
        rm.license = lic if isinstance(lic, str) else None
        rm.languages = _str_list(card.get("language"), "cardData.language")


# --------------------------------------------------------------------------- export shape


def parse_export_record(d: object) -> RawModel:
    """Parse one row of the 2025-12-07 export (list fields + the export's second pass, merged)."""
    if not isinstance(d, dict):
        raise BadRecord(f"record is a {type(d).__name__}, not an object")
    rid = _check_id(d.get("id"))
    try:
        pb = d.get("params_billions")
        params = None
        if isinstance(pb, (int, float)) and not isinstance(pb, bool) and math.isfinite(pb) and pb > 0:
            params = _count(round(pb * 1e9), "params_billions", MAX_PARAMS)
        sg = d.get("storage_gb")
        storage = None
        if isinstance(sg, (int, float)) and not isinstance(sg, bool) and math.isfinite(sg) and sg >= 0:
            storage = _count(round(sg * 1e9), "storage_gb", MAX_BYTES)
        tt = d.get("tensor_types")
        tensor_types = [t.strip() for t in tt.split(",") if t.strip()] if isinstance(tt, str) else []
        arch = d.get("architecture")
        rm = RawModel(
            id=rid,
            author=_str(d.get("author"), "author") or rid.split("/")[0],
            pipeline_tag=_str(d.get("pipeline_tag"), "pipeline_tag") or "audio-text-to-text",
            downloads=_count(d.get("downloads"), "downloads", MAX_DOWNLOADS) or 0,
            likes=_count(d.get("likes"), "likes", MAX_DOWNLOADS) or 0,
            tags=_str_list(d.get("tags"), "tags"),
            library_name=_str(d.get("library_name"), "library_name") or None,
            gated=_gated(d.get("gated")),
            last_modified=_str(d.get("lastModified"), "lastModified"),
            params=params,
            tensor_types=tensor_types,
            storage_bytes=storage,
            architectures=[arch] if isinstance(arch, str) and arch else [],
            model_type=_str(d.get("model_type"), "model_type") or None,
        )
    except BadRecord as exc:
        raise BadRecord(f"{rid}: {exc}") from None
    return _common(rm)


PARSERS = {"hub-api": parse_api_record, "hf-export": parse_export_record}

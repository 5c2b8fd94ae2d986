"""Exports: raw and processed JSON/CSV (RFC 4180), and the families index in Markdown.

Only fixed file names are written under the output directory; nothing from a repo id ever
becomes a path. A build is written into a temp directory that replaces the output directory whole.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from audiomm.catalog.process import Catalog
from audiomm.catalog.records import RawModel
from audiomm.catalog.snapshots import Snapshot
from audiomm.paths import atomic_write_text, replaced_dir
from audiomm.rendering import md_escape

MODEL_COLUMNS = [
    "id",
    "family",
    "role",
    "derived_from",
    "parent",
    "params_total_b",
    "params_repo_b",
    "params_source",
    "params_note",
    "excluded",
    "exclude_reason",
    "audio_input",
    "audio_reason",
    "pipeline_tag",
    "format",
    "quantization",
    "quant_files",
    "components",
    "tensor_types",
    "storage_gb",
    "architecture",
    "model_type",
    "library",
    "licence",
    "languages",
    "gated",
    "custom_code",
    "created_at",
    "last_modified",
    "downloads",
    "likes",
    "base_models",
    "author",
]
FAMILY_COLUMNS = [
    "family",
    "canonical_id",
    "canonical_in_catalog",
    "member_count",
    "members",
    "roles",
    "params_total_b",
    "params_source",
    "downloads_total",
    "formats",
    "quantizations",
    "licence",
    "architecture",
    "model_type",
    "pipeline_tags",
    "parent_id",
    "parent_family",
    "fine_tunes",
]


def cell(value: Any) -> Any:
    """One CSV cell: lists of strings joined with "; ", other structures as JSON."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return "; ".join(value)
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return value


def to_csv(rows: list[dict[str, Any]], columns: list[str]) -> str:
    buf = io.StringIO(newline="")
    w = csv.DictWriter(
        buf, fieldnames=columns, extrasaction="ignore", quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n"
    )
    w.writeheader()
    for row in rows:
        w.writerow({c: cell(row.get(c)) for c in columns})
    return buf.getvalue()


def _json(data: Any) -> str:
    return json.dumps(data, indent=1, ensure_ascii=False) + "\n"


def model_rows(cat: Catalog) -> list[dict[str, Any]]:
    return [m.to_dict() for m in cat.models]


def family_rows(cat: Catalog) -> list[dict[str, Any]]:
    return [f.to_dict() for f in cat.families]


def raw_rows(raw: list[RawModel]) -> list[dict[str, Any]]:
    return [r.to_dict() for r in raw]


def fmt_params(b: float | None) -> str:
    if b is None:
        return "?"
    return f"{b:.1f}" if b >= 10 else f"{b:.2f}"


def index_md(cat: Catalog, snap: Snapshot) -> str:
    lines = [
        "# Audio multimodal models: families",
        "",
        f"Snapshot: {snap.taken_at[:10]} ({md_escape(snap.source)}). {len(cat.included)} repos in "
        f"{len(cat.families)} families; {len(cat.models) - len(cat.included)} repos excluded (see models.csv).",
        "",
        "| # | Family | Canonical repo | Params (B) | Downloads | Repos | Formats | Quantizations | Licence |",
        "|---:|---|---|---:|---:|---:|---|---|---|",
    ]
    for i, f in enumerate(cat.families, 1):
        d = f.to_dict()
        lines.append(
            f"| {i} | {md_escape(f.family)} | {md_escape(f.canonical_id)} | {fmt_params(d['params_total_b'])} | "
            f"{f.downloads_total:,} | {len(f.members)} | {md_escape(', '.join(f.formats))} | "
            f"{md_escape(', '.join(f.quantizations)) or '-'} | {md_escape(f.licence or '?')} |"
        )
    if not snap.complete:
        lines += ["", "**Incomplete snapshot.** Missing:", *[f"- {md_escape(m)}" for m in snap.missing]]
    return "\n".join(lines) + "\n"


LAYOUT = (  # every file a build writes, relative to its directory
    "raw/models.json",
    "raw/models.csv",
    "models.json",
    "models.csv",
    "families.json",
    "families.csv",
    "index.md",
)


def export(cat: Catalog, snap: Snapshot, out: Path) -> list[Path]:
    """Write the build into ``out`` whole: it is made in a directory beside ``out`` and takes its place
    once complete (a failure leaves the previous build as it was); ``out`` holds only these files."""
    out = Path(out)
    meta = {"snapshot": snap.id, "taken_at": snap.taken_at, "source": snap.source, "complete": snap.complete}
    texts = (
        _json(snap.records),
        to_csv(raw_rows(cat.raw), list(RawModel.__dataclass_fields__)),
        _json({**meta, "models": model_rows(cat)}),
        to_csv(model_rows(cat), MODEL_COLUMNS),
        _json({**meta, "families": family_rows(cat)}),
        to_csv(family_rows(cat), FAMILY_COLUMNS),
        index_md(cat, snap),
    )
    with replaced_dir(out, LAYOUT) as tmp:
        for name, text in zip(LAYOUT, texts, strict=True):
            atomic_write_text(tmp / name, text)
    return [out / name for name in LAYOUT]

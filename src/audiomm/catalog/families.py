"""Collapse quantizations, conversions, mirrors and precision variants into families.

Relations come from ``base_model`` tags where present, and from names, architecture and size
where not. Fine-tunes and adapters of an audio model head their own family, linked to the parent.
Excluded repos stay out of families; copies of an excluded repo are excluded with it.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from typing import Any

from audiomm.catalog.enrich import ModelRecord, billions, mentions_any
from audiomm.catalog.facts import Facts
from audiomm.knowledge import architectures

# Suffixes that mark a copy of another repo: format conversions, quantizations, precisions.
_SUFFIXES = [
    (r"[-_.](?:i1[-_])?gguf$", "format"),
    (r"[-_]i1$", "format"),
    (r"[-_]onnx$", "conversion"),
    (r"[-_]mlx(?:[-_]\d+bit)?$", "conversion"),
    (r"[-_](?:hf|transformers)$", "conversion"),
    (r"[-_]timestamped$", "conversion"),
    (r"[-_]dynamic[-_]fp8$", "quant"),
    (r"[-_](?:w4a16|w8a8|w4a8)(?:[-_]gptq)?$", "quant"),
    (r"[-_]gptq(?:[-_]int[48])?$", "quant"),
    (r"[-_]awq$", "quant"),
    (r"[-_](?:4bit|8bit)[-_]bnb$", "quant"),
    (r"[-_]bnb[-_](?:4bit|8bit)$", "quant"),
    (r"[-_](?:4bit|8bit|int4|int8)$", "quant"),
    (r"[-_]nvfp4(?:a16)?$", "quant"),
    (r"[-_]smashed$", "quant"),
    (r"[-_]q\d_(?:\d|k(?:_[sml])?)$", "quant"),
    (r"[-_]fp8$", "precision"),
    (r"[-_](?:fp16|bf16|fp32|f16|f32)$", "precision"),
]
_SUFFIX_RES = [(re.compile(p), kind) for p, kind in _SUFFIXES]


def name_key(name: str) -> tuple[str, list[str]]:
    """Lower-cased name with copy suffixes stripped, and the kinds of suffix stripped."""
    key = name.lower()
    kinds: list[str] = []
    changed = True
    while changed:
        changed = False
        for rx, kind in _SUFFIX_RES:
            new = rx.sub("", key)
            if new != key and new:
                key, changed = new, True
                kinds.append(kind)
    return key, kinds


@dataclass
class Family:
    family: str
    canonical_id: str
    canonical_in_catalog: bool
    members: list[str]
    roles: dict[str, int]
    params_total: int | None
    params_source: str
    downloads_total: int
    formats: list[str]
    quantizations: list[str]
    licence: str | None
    architecture: str | None
    model_type: str | None
    pipeline_tags: list[str]
    parent_id: str | None = None
    parent_family: str | None = None
    fine_tunes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["params_total_b"] = billions(self.params_total)
        d["member_count"] = len(self.members)
        return d


def _is_audio_llm(ref: str, by_id: dict[str, ModelRecord], facts: Facts) -> bool:
    rec = by_id.get(ref.lower())
    if rec is not None:
        return rec.audio_input and not rec.excluded
    mt = facts.value(ref, "model_type")
    if mt:
        return mt in architectures().audio_llm_model_types
    return mentions_any(ref.split("/")[-1], architectures().audio_llm_name_hints)


def _compatible(a: ModelRecord, b: ModelRecord | None, tolerance: float) -> bool:
    if b is None:
        return True
    if a.architecture and b.architecture and a.architecture != b.architecture:
        return False
    if a.quantization or b.quantization or a.format != b.format:
        return True
    if a.params_repo and b.params_repo:
        return abs(a.params_repo - b.params_repo) <= tolerance * max(a.params_repo, b.params_repo)
    return True


def _rank(r: ModelRecord) -> tuple:
    """Which of two same-named repos is the original: most downloads, then earliest, then id."""
    return (-r.downloads, r.created_at or "9999", r.id.lower())


def _role(r: ModelRecord, target: ModelRecord | None, stripped: list[str]) -> str:
    same_owner = target is not None and target.owner.lower() == r.owner.lower()
    if r.quantization == "fp8" and same_owner and "quant" not in stripped:
        return "precision-variant"  # fp32/bf16/fp8 of one release by its publisher
    if r.quantization or "quant" in stripped:
        return "quantized"
    if r.format in ("onnx", "mlx", "gguf") or "conversion" in stripped or "format" in stripped:
        return "converted"
    if "precision" in stripped or same_owner:
        return "precision-variant"
    return "mirror"


@dataclass
class _Index:
    """The records by lower-cased id, their stripped names, and the repos each exact name belongs to."""

    records: list[ModelRecord]
    by_id: dict[str, ModelRecord]
    keys: dict[str, tuple[str, list[str]]]
    exact: dict[str, list[str]]

    @classmethod
    def of(cls, records: list[ModelRecord]) -> _Index:
        """Exact names: catalogued repos and the external repos that base_model tags name."""
        by_id = {r.id.lower(): r for r in records}
        exact: dict[str, list[str]] = defaultdict(list)
        external: dict[str, str] = {}
        for r in records:
            exact[r.name.lower()].append(r.id)
            for ref in r.base_models:
                ext = ref.split(":", 1)[1]
                if ext.lower() not in by_id:
                    external.setdefault(ext.lower(), ext)
        for ext in external.values():
            if ext not in exact[ext.split("/")[1].lower()]:
                exact[ext.split("/")[1].lower()].append(ext)
        return cls(records, by_id, {r.id.lower(): name_key(r.name) for r in records}, exact)

    def record(self, repo_id: str) -> ModelRecord | None:
        return self.by_id.get(repo_id.lower())

    def canonical_id(self, repo_id: str) -> str:
        """The id as catalogued (its case), or as given for a repo outside the catalog."""
        rec = self.record(repo_id)
        return rec.id if rec is not None else repo_id

    def name_target(self, r: ModelRecord) -> str | None:
        """The repo ``r`` copies by name: its name with copy suffixes stripped, preferring tagged bases."""
        key, stripped = self.keys[r.id.lower()]
        cands = [c for c in self.exact.get(key, []) if c.lower() != r.id.lower()]
        if not cands and "_" in key:  # bartowski-style "owner_Name-GGUF"
            cands = [c for c in self.exact.get(key.split("_", 1)[1], []) if c.lower() != r.id.lower()]
        if not stripped:  # same name: only a more original repo is a target
            cands = [c for c in cands if c.lower() in self.by_id and _rank(self.by_id[c.lower()]) < _rank(r)]
        cands = [c for c in cands if _compatible(r, self.record(c), 0.05)]
        tagged = {ref.split(":", 1)[1].lower() for ref in r.base_models}
        cands.sort(
            key=lambda c: (
                c.lower() not in tagged,
                c.lower() not in self.by_id,
                _rank(self.by_id[c.lower()]) if c.lower() in self.by_id else (),
            )
        )
        return cands[0] if cands else None

    def prefix_target(self, r: ModelRecord) -> str | None:
        """The repo whose name ``r``'s extends (another owner, same architecture and size)."""
        low = r.name.lower()
        best = None
        for o in self.records:
            ol = o.name.lower()
            if o is r or o.owner.lower() == r.owner.lower():
                continue  # a longer name from the same owner is another release (…-Instruct)
            if not (low.startswith(ol + "-") or low.startswith(ol + "_")):
                continue
            if re.match(r"[-_](instruct|chat|base|it|v\d|\d)", low[len(ol) :]):
                continue
            if not (r.architecture and r.architecture == o.architecture and r.params_repo and o.params_repo):
                continue
            if abs(r.params_repo - o.params_repo) <= 0.02 * o.params_repo and (
                best is None or len(ol) > len(best.name)
            ):
                best = o
        return best.id if best else None

    def root(self, r: ModelRecord) -> str:
        """The original at the end of ``r``'s chain of copies."""
        seen, cur = set(), r.id
        while True:
            rec = self.record(cur)
            if rec is None or rec.derived_from is None or cur.lower() in seen:
                return cur
            seen.add(cur.lower())
            cur = rec.derived_from


def assign_families(records: list[ModelRecord], facts: Facts) -> list[Family]:
    """Give each record its family, role and parent (in place); the families, most downloaded first."""
    ix = _Index.of(records)
    _link_copies_and_fine_tunes(ix, facts)
    _link_same_release(ix)
    _assign_roles(ix)
    inherit_from_parents(records)
    families = _build_families(ix, facts)
    _link_parent_families(ix, families)
    families.sort(key=lambda f: (-f.downloads_total, f.family))
    return families


def _link_copies_and_fine_tunes(ix: _Index, facts: Facts) -> None:
    """What each repo derives from (a copy) or descends from (a fine-tune or adapter of an audio model)."""
    for r in ix.records:
        bases = [ref.split(":", 1) for ref in r.base_models]
        tag_q = next((b for rel, b in bases if rel == "quantized"), None)
        tag_ft = next(((rel, b) for rel, b in bases if rel in ("finetune", "adapter", "merge", "base")), None)
        target = tag_q or ix.name_target(r) or ix.prefix_target(r)
        if target:
            r.derived_from = ix.canonical_id(target)
        elif tag_ft:
            rel, parent = tag_ft
            if parent.lower() != r.id.lower() and _is_audio_llm(parent, ix.by_id, facts):
                r.parent = ix.canonical_id(parent)
                r.role = "adapter" if rel == "adapter" else "finetune"


def _link_same_release(ix: _Index) -> None:
    """Repos of one owner sharing a stripped name with no original among them (fp32/bf16/fp8 of one release)."""
    groups: dict[tuple[str, str], list[ModelRecord]] = defaultdict(list)
    for r in ix.records:
        key, stripped = ix.keys[r.id.lower()]
        if stripped and r.derived_from is None:
            groups[(r.owner.lower(), key)].append(r)
    for members in groups.values():
        if len(members) < 2:
            continue
        plain = [m for m in members if not m.quantization] or members
        head = min(plain, key=_rank)
        for m in members:
            if m is not head:
                m.derived_from, m.parent, m.role = head.id, None, ""


def _assign_roles(ix: _Index) -> None:
    """Roles of copies and originals; a copy of an excluded repo is excluded with it."""
    for r in ix.records:
        if r.derived_from:
            r.role = _role(r, ix.record(r.derived_from), ix.keys[r.id.lower()][1])
            rt = ix.record(ix.root(r))
            if rt is not None and rt.excluded and not r.excluded:
                r.excluded = True
                r.exclude_reason = f"{r.role} copy of {rt.id}, which is excluded ({rt.exclude_reason})"
        elif not r.role:
            r.role = "canonical"


def _build_families(ix: _Index, facts: Facts) -> list[Family]:
    """One family per original (excluded repos stay out), named by its stripped name where unique."""
    members_of: dict[str, list[ModelRecord]] = defaultdict(list)
    for r in ix.records:
        if not r.excluded:
            members_of[ix.root(r)].append(r)
    base_slug = {rid: name_key(rid.split("/")[1])[0] for rid in members_of}
    names = Counter(base_slug.values())
    slug_of = {rid: (s if names[s] == 1 else rid.lower().replace("/", "--")) for rid, s in base_slug.items()}
    return [_family(ix.record(rid), rid, members, slug_of[rid], facts) for rid, members in members_of.items()]


def _family(
    head: ModelRecord | None, rid: str, members: list[ModelRecord], name: str, facts: Facts
) -> Family:
    """The family headed by ``rid`` (``head``: its record, None outside the catalog)."""
    members.sort(key=lambda m: (m is not head, _rank(m)))
    ptotal, psource = _family_params(head, rid, members, facts)
    for m in members:
        m.family = name
        _inherit_params(m, head, ptotal, psource)

    def common(attr: str) -> str | None:  # the head's, else the members' most common
        own = getattr(head, attr) if head is not None else None
        return own or _most_common([getattr(m, attr) for m in members])

    quants = {q.quant for m in members for q in m.quant_files} | {
        m.quantization for m in members if m.quantization
    }
    return Family(
        family=name,
        canonical_id=rid,
        canonical_in_catalog=head is not None,
        members=[m.id for m in members],
        roles=dict(Counter(m.role for m in members)),
        params_total=ptotal,
        params_source=psource,
        downloads_total=sum(m.downloads for m in members),
        formats=sorted({m.format for m in members}),
        quantizations=sorted(quants),
        licence=common("licence"),
        architecture=common("architecture"),
        model_type=common("model_type"),
        pipeline_tags=sorted({m.pipeline_tag for m in members if m.pipeline_tag}),
        parent_id=head.parent if head else None,
    )


def _link_parent_families(ix: _Index, families: list[Family]) -> None:
    """A fine-tune's family names its parent's family, and the parent lists it."""
    fam_of = {f.canonical_id.lower(): f for f in families}
    for f in families:
        if f.parent_id:
            pr = ix.record(f.parent_id)
            pf = fam_of.get(ix.root(pr).lower()) if pr else fam_of.get(f.parent_id.lower())
            if pf is not None and pf is not f:
                f.parent_family = pf.family
                pf.fine_tunes.append(f.family)


def _most_common(values: list[str | None]) -> str | None:
    vals = [v for v in values if v]
    return Counter(vals).most_common(1)[0][0] if vals else None


def _family_params(
    head: ModelRecord | None, rid: str, members: list[ModelRecord], facts: Facts
) -> tuple[int | None, str]:
    if head is not None and head.params_total:
        return head.params_total, head.params_source
    fact = facts.get(rid, "params")
    if fact is not None:
        return int(fact.value), f"curated ({fact.source})"
    real = [
        m
        for m in members
        if m.params_total
        and m.role in ("mirror", "converted", "precision-variant")
        and m.params_source.startswith("safetensors")
    ]
    if real:
        best = max(real, key=lambda m: m.params_total or 0)
        return best.params_total, f"{best.params_source} of {best.id}"
    return None, "unknown"


def _inherit_params(m: ModelRecord, head: ModelRecord | None, ptotal: int | None, psource: str) -> None:
    """Copies take their size from the family: quantized/packed weights undercount parameters."""
    if m is head or ptotal is None:
        return
    composite_without_parts = m.model_type in architectures().composite_model_types and not m.components
    packed = m.quantization not in (None, "gguf") or m.format == "onnx"
    if (
        m.params_total is None
        or packed
        or composite_without_parts
        or (m.quantization == "gguf" and m.params_source != "gguf-metadata")
    ):
        m.params_total = ptotal
        m.params_source = f"base model {m.derived_from or (head.id if head else '?')}: {psource}"


def inherit_from_parents(records: list[ModelRecord]) -> None:
    """Fine-tunes and adapters with no size of their own take their parent's (same architecture)."""
    by_id = {r.id.lower(): r for r in records}
    for r in records:
        if r.params_total is None and r.parent and r.parent.lower() in by_id:
            p = by_id[r.parent.lower()]
            if p.params_total:
                r.params_total = p.params_total
                r.params_source = f"parent {p.id}: {p.params_source}"

"""Hub API fixtures derived from the bundled 2025-12-07 export, with realistic fields the export lacks.

The list items get ``safetensors``, ``config``, ``gguf``, ``siblings`` and ``usedStorage`` in the
shapes the Hub API returns; composite repos get a ``config.json``; GGUF repos get a file tree with
sizes; component models get a model-info answer. Numbers come from the export where it has them.
"""

from __future__ import annotations

import hashlib
import json
from importlib import resources

GGUF_QUANTS = ["Q2_K", "Q3_K_M", "Q4_K_M", "Q5_K_M", "Q6_K", "Q8_0", "f16"]
BPW = {"Q2_K": 2.6, "Q3_K_M": 3.9, "Q4_K_M": 4.85, "Q5_K_M": 5.7, "Q6_K": 6.6, "Q8_0": 8.5, "f16": 16.0}

COMPONENTS = {  # model info the fixture Hub answers for component / external repos
    "meta-llama/Llama-3.2-1B-Instruct": ("llama", "text-generation", {"BF16": 1_235_814_400}),
    "meta-llama/Llama-3.1-8B-Instruct": ("llama", "text-generation", {"BF16": 8_030_261_248}),
    "openai/whisper-large-v3-turbo": ("whisper", "automatic-speech-recognition", {"F16": 808_878_080}),
    "mistralai/Voxtral-Mini-3B-2507": ("voxtral", "audio-text-to-text", {"BF16": 4_676_271_104}),
}

ANY_TO_ANY = [
    {
        "id": "Qwen/Qwen2.5-Omni-7B",
        "downloads": 150000,
        "likes": 1700,
        "tags": [
            "transformers",
            "safetensors",
            "qwen2_5_omni",
            "multimodal",
            "any-to-any",
            "en",
            "license:other",
        ],
        "config": {"architectures": ["Qwen2_5OmniModel"], "model_type": "qwen2_5_omni"},
        "params": {"BF16": 10_732_225_408},
    },
    {
        "id": "deepseek-ai/Janus-Pro-7B",
        "downloads": 90000,
        "likes": 3400,
        "tags": ["transformers", "pytorch", "multi_modality", "any-to-any", "license:mit"],
        "config": {"architectures": ["MultiModalityCausalLM"], "model_type": "multi_modality"},
        "params": None,
    },
]


def _sha(repo: str) -> str:
    return hashlib.sha1(repo.encode()).hexdigest()


def bundled_rows() -> list[dict]:
    doc = json.loads(resources.files("audiomm.catalog").joinpath("data/bundled-2025-12-07.json").read_text())
    return doc["records"]


def _safetensors(row: dict) -> dict | None:
    pb, types = row.get("params_billions"), row.get("tensor_types")
    if not pb or not isinstance(types, str):
        return None
    total = round(pb * 1e9)
    dtypes = [t.strip() for t in types.split(",")]
    # The Hub gives per-dtype counts; the export only the total: put it on the first dtype.
    params = {d: (total if i == 0 else 1_000_000) for i, d in enumerate(dtypes)}
    return {"parameters": params, "total": sum(params.values())}


def list_item(row: dict) -> dict:
    rid = row["id"]
    item = {
        "id": rid,
        "_id": _sha(rid)[:24],
        "modelId": rid,
        "author": rid.split("/")[0],
        "sha": _sha(rid),
        "downloads": row.get("downloads", 0),
        "likes": row.get("likes", 0),
        "tags": row.get("tags", []),
        "pipeline_tag": "audio-text-to-text",
        "library_name": row.get("library_name") or None,
        "gated": row.get("gated") if row.get("gated") not in ("False", "") else False,
        "createdAt": "2025-01-01T00:00:00.000Z",
        "lastModified": row.get("lastModified"),
        "private": False,
    }
    if row.get("architecture"):
        item["config"] = {"architectures": [row["architecture"]], "model_type": row.get("model_type")}
    st = _safetensors(row)
    if st:
        item["safetensors"] = st
    storage = round((row.get("storage_gb") or 0) * 1e9)
    item["usedStorage"] = storage
    siblings = [{"rfilename": ".gitattributes"}, {"rfilename": "README.md"}]
    if "gguf" in item["tags"]:
        base_params = 8_397_094_400 if "Qwen2-Audio" in rid else 3_000_000_000
        item["gguf"] = {
            "total": 7_615_616_512 if "Qwen2-Audio" in rid else base_params,
            "architecture": "qwen2",
            "context_length": 8192,
        }
        name = rid.split("/")[1].removesuffix("-GGUF")
        siblings += [{"rfilename": f"{name}.{q}.gguf"} for q in GGUF_QUANTS]
        siblings.append({"rfilename": f"mmproj-{name}-f16.gguf"})
    elif st:
        siblings += [{"rfilename": "config.json"}, {"rfilename": "model.safetensors"}]
    item["siblings"] = siblings
    return item


def tree(item: dict) -> list[dict]:
    total = item.get("gguf", {}).get("total", 1_000_000_000)
    out = []
    for s in item["siblings"]:
        name = s["rfilename"]
        size = 1_000
        for q, bpw in BPW.items():
            if name.endswith(f".{q}.gguf"):
                size = int(total * bpw / 8)
        if name.startswith("mmproj"):
            size = 1_280_000_000
        out.append({"type": "file", "oid": _sha(name), "size": size, "path": name})
    return out


def config_json(rid: str, item: dict) -> dict | None:
    mt = (item.get("config") or {}).get("model_type")
    if mt != "ultravox":
        return None
    cfg = {"architectures": ["UltravoxModel"], "model_type": "ultravox"}
    if "llama-3_2-1b" in rid:
        cfg.update(
            text_model_id="meta-llama/Llama-3.2-1B-Instruct", audio_model_id="openai/whisper-large-v3-turbo"
        )
    elif "llama-3_1-8b" in rid:
        cfg.update(
            text_model_id="meta-llama/Llama-3.1-8B-Instruct", audio_model_id="openai/whisper-large-v3-turbo"
        )
    return cfg


def any_to_any_items() -> list[dict]:
    out = []
    for m in ANY_TO_ANY:
        item = {
            "id": m["id"],
            "author": m["id"].split("/")[0],
            "sha": _sha(m["id"]),
            "downloads": m["downloads"],
            "likes": m["likes"],
            "tags": m["tags"],
            "pipeline_tag": "any-to-any",
            "config": m["config"],
            "usedStorage": 20_000_000_000,
            "siblings": [{"rfilename": "config.json"}],
        }
        if m["params"]:
            item["safetensors"] = {"parameters": m["params"], "total": sum(m["params"].values())}
        out.append(item)
    return out


def model_info(rid: str) -> dict | None:
    if rid not in COMPONENTS:
        return None
    mt, tag, params = COMPONENTS[rid]
    return {
        "id": rid,
        "sha": _sha(rid),
        "pipeline_tag": tag,
        "config": {"model_type": mt},
        "safetensors": {"parameters": params, "total": sum(params.values())},
    }


class HubFixtures:
    """Everything the fixture server answers."""

    def __init__(self, rows: list[dict] | None = None):
        rows = rows if rows is not None else bundled_rows()
        self.lists = {"audio-text-to-text": [list_item(r) for r in rows], "any-to-any": any_to_any_items()}
        self.by_id = {i["id"]: i for items in self.lists.values() for i in items}

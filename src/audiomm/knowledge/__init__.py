"""TEMPORARY shim until the knowledge base lands (replaced by the real package)."""

from audiomm.backends.registry import ModelSpec, lookup


def spec_for(*names: str, model_type: str | None = None) -> ModelSpec:
    for name in names:
        spec = lookup(name)
        if spec.known:
            return spec
    return lookup(names[0] if names else "", model_type)


__all__ = ["ModelSpec", "spec_for"]

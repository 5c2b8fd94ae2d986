"""Backends run a model on requests (audio + prompt, or text). :func:`load` makes one from a
:class:`~audiomm.config.BackendConfig`; each backend declares its model's facts (``spec``)."""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module

from audiomm.backends.base import Backend, BackendError, GenerationSettings, Request, Response
from audiomm.config import BackendConfig

FACTORIES: dict[str, str] = {  # backend name -> "module:class", imported only when used
    "openai": "audiomm.backends.openai_backend:OpenAIBackend",
    "ollama": "audiomm.backends.ollama_backend:OllamaBackend",
    "transformers": "audiomm.backends.transformers_backend:TransformersBackend",
    "classic": "audiomm.backends.classic:ClassicBackend",
}


def factory(name: str) -> Callable[[BackendConfig], Backend]:
    module, cls = FACTORIES[name].split(":")
    return getattr(import_module(module), cls)


def load(config: BackendConfig) -> Backend:
    """The backend for ``config``: connected or loaded, ready for ``generate``."""
    return factory(config.backend)(config)


__all__ = ["FACTORIES", "Backend", "BackendError", "GenerationSettings", "Request", "Response", "load"]

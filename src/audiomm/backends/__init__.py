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


SERVERS = ("openai", "ollama")  # backends that may name several servers (replicas of one model)


def load(config: BackendConfig) -> Backend:
    """The backend for ``config``: connected or loaded, ready for ``generate``; several servers of one
    model become one :class:`~audiomm.backends.replicas.Replicas`."""
    make = factory(config.backend)
    if config.backend in SERVERS and len(config.servers()) > 1:
        from audiomm.backends.replicas import replicas

        return replicas(config, make)
    return make(config)


__all__ = ["FACTORIES", "Backend", "BackendError", "GenerationSettings", "Request", "Response", "load"]

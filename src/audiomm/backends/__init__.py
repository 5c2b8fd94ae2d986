"""Backends: one small protocol, a batch of requests in, texts out (as each one finishes)."""

from audiomm.backends.base import Backend, BackendError, GenerationSettings, Request, Response

__all__ = ["Backend", "BackendError", "GenerationSettings", "Request", "Response"]

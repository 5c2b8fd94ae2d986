"""audiomm: catalog, size, run and evaluate open-source audio multimodal models."""

from audiomm.config import BackendConfig, RunOptions

__version__ = "0.1.0"
__all__ = ["BackendConfig", "RunOptions", "run"]


def run(*args, **kwargs):
    """Turn a recording into text with an audio model; see :func:`audiomm.api.run`."""
    from audiomm.api import run as run_api

    return run_api(*args, **kwargs)

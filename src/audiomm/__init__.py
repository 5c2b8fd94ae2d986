"""audiomm: catalog, size, run and evaluate open-source audio multimodal models."""

__version__ = "0.1.0"


def run(*args, **kwargs):
    """Turn a recording into text with an audio model; see :func:`audiomm.api.run`."""
    from audiomm.api import run as _run

    return _run(*args, **kwargs)

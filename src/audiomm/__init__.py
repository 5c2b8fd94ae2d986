"""audiomm: catalog, size, run and evaluate open-source audio multimodal models."""

__version__ = "0.1.0"

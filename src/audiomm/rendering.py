"""Helpers shared by the generated pages (catalog/render.py) and reports (evaluate/report.py):
jinja2 environments, Markdown escaping, figures saved as PNG + SVG."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from audiomm.errors import AudiommError


def jinja_env(package: str = "audiomm.catalog", autoescape: bool = False):
    """A jinja2 environment over ``package``'s ``templates/`` (strict: an unknown name is an error)."""
    try:
        import jinja2
    except ImportError:  # jinja2 is a core dependency; this only guards broken installs
        raise AudiommError("catalog pages need jinja2: pip install jinja2") from None
    return jinja2.Environment(
        loader=jinja2.PackageLoader(package, "templates"),
        autoescape=autoescape,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )


def md_escape(text: Any) -> str:
    """``text`` safe inside a Markdown table cell (None becomes "")."""
    s = "" if text is None else str(text)
    return s.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ").replace("<", "&lt;")


def save_figure(fig, out: Path, name: str, alt: str, caption: str) -> dict[str, str]:
    """Write ``fig`` as PNG and SVG (each atomically); the paths are relative to ``out``'s parent."""
    for ext in ("png", "svg"):
        tmp = out / f".{name}.{ext}.tmp"
        fig.savefig(tmp, format=ext)
        tmp.replace(out / f"{name}.{ext}")
    return {"png": f"{out.name}/{name}.png", "svg": f"{out.name}/{name}.svg", "alt": alt, "caption": caption}

"""Helpers shared by the generated pages (catalog/render.py) and reports (evaluate/report.py):
jinja2 environments, Markdown escaping, link targets, text for plots, figures saved as PNG + SVG.

Names and Hub fields are data: in Markdown they are escaped (:func:`md_escape`), in link targets
percent-encoded (:func:`relative_href`), in plots kept from matplotlib's mathtext (:func:`plot_text`).
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import quote

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


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # all but tab and newline
_CONTROL_IN_LINE = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def plain(text: object, one_line: bool = False) -> str:
    """``text`` with its control characters (a terminal's escape sequences) shown as ``\\xNN``, not
    sent; with ``one_line``, newlines and tabs too."""
    control = _CONTROL_IN_LINE if one_line else _CONTROL
    return control.sub(lambda m: f"\\x{ord(m[0]):02x}", str(text))


_MD = str.maketrans({"\\": "\\\\", "|": "\\|", "[": "\\[", "]": "\\]", "<": "&lt;", "\n": " ", "\r": " "})


def md_escape(text: Any) -> str:
    """``text`` safe inside a Markdown table cell or link text: no table break, no link, no HTML tag,
    no control character (None becomes "")."""
    return plain(("" if text is None else str(text)).translate(_MD), one_line=True)


def relative_href(path: str) -> str:
    """A link target for a file under the page's folder, percent-encoded (no scheme, no way up): ""
    when ``path`` is absolute or climbs with ``..`` (then there is nothing to link to)."""
    p = PurePosixPath(path)
    if not path or p.is_absolute() or ".." in p.parts:
        return ""
    return quote(p.as_posix(), safe="/")


def plot_text(text: Any) -> str:
    """``text`` for a matplotlib label or title, shown as it is (a ``$`` never starts mathtext)."""
    return plain(text, one_line=True).replace("$", r"\$")


def pyplot():
    """matplotlib's pyplot on the Agg backend (None when matplotlib is not installed). A glyph that its
    fonts lack is drawn as a box, without a warning that would print the data on stderr."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    warnings.filterwarnings("ignore", message=r"Glyph \d+ .* missing from", category=UserWarning)
    return plt


def save_figure(fig, out: Path, name: str, alt: str, caption: str) -> dict[str, str]:
    """Write ``fig`` as PNG and SVG (each atomically); the paths are relative to ``out``'s parent."""
    for ext in ("png", "svg"):
        tmp = out / f".{name}.{ext}.tmp"
        fig.savefig(tmp, format=ext)
        tmp.replace(out / f"{name}.{ext}")
    return {"png": f"{out.name}/{name}.png", "svg": f"{out.name}/{name}.svg", "alt": alt, "caption": caption}

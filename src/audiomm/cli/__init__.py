"""The ``audiomm`` command line: one module per command group, tables in :mod:`audiomm.cli.present`."""

from __future__ import annotations

import os
import sys

import typer

from audiomm.cli import audio, catalog, evaluate, models, run
from audiomm.cli.console import fail
from audiomm.errors import AudiommError, first_line

app = typer.Typer(no_args_is_help=True, pretty_exceptions_enable=False, add_completion=False, help=__doc__)
app.add_typer(catalog.app, name="catalog")
app.add_typer(audio.app, name="audio")
app.add_typer(evaluate.app, name="eval")
app.add_typer(models.app, name="models")
app.command("size")(catalog.size_cmd)
app.command("run")(run.run_cmd)
app.command("presets")(run.presets_cmd)
app.command("logs")(run.logs_cmd)


def main() -> None:
    """The console script: every error a user can act on is one ``error:`` line and a non-zero exit."""
    try:
        app()
    except AudiommError as exc:
        fail(str(exc))
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        fail("interrupted")
        sys.exit(130)
    except Exception as exc:  # noqa: BLE001 - never a traceback for the user
        if os.environ.get("AUDIOMM_DEBUG"):
            raise
        what = f"unexpected {type(exc).__name__}: {first_line(exc)}"
        fail(f"{what} (set AUDIOMM_DEBUG=1 for details)")
        sys.exit(1)

"""The ``audiomm`` command line: one module per command group, tables in :mod:`audiomm.cli.present`."""

from __future__ import annotations

import os
import sys

import typer

from audiomm.cli import audio, batch, catalog, evaluate, models, run, serve
from audiomm.cli.console import fail
from audiomm.errors import AudiommError, first_line

app = typer.Typer(no_args_is_help=True, pretty_exceptions_enable=False, add_completion=False, help=__doc__)
app.add_typer(catalog.app, name="catalog")
app.add_typer(audio.app, name="audio")
app.add_typer(evaluate.app, name="eval")
app.add_typer(models.app, name="models")
app.command("size")(catalog.size_cmd)
app.command("run")(run.run_cmd)
app.command("batch")(batch.batch_cmd)
app.command("presets")(run.presets_cmd)
app.command("logs")(run.logs_cmd)
app.command("serve")(serve.serve_cmd)

INTERRUPTED = 130  # the shell's code for Ctrl-C


def main() -> None:
    """The console script: every error a user can act on is one ``error:`` line and a non-zero exit,
    bad options included."""
    try:
        code = app(standalone_mode=False)
    except AudiommError as exc:
        die(str(exc), exc.exit_code)
    except KeyboardInterrupt:
        die("interrupted", INTERRUPTED)
    except Exception as exc:  # noqa: BLE001 - never a traceback for the user
        if os.environ.get("AUDIOMM_DEBUG"):
            raise
        die(*problem(exc))
    if code == INTERRUPTED:  # typer turns Ctrl-C outside a run into this code
        die("interrupted", INTERRUPTED)
    sys.exit(code if isinstance(code, int) else 0)


def problem(exc: Exception) -> tuple[str, int]:
    """The error line and exit code of what the command line itself raised: a usage error (a bad or
    missing option, from click or the copy of it typer carries), an abort, or a bug."""
    name = type(exc).__name__
    if name == "NoArgsIsHelpError":  # no arguments: the help (typer has printed it already)
        help_text = exc.format_message()
        if help_text.strip():
            print(help_text, file=sys.stderr)
        sys.exit(2)
    if name == "Abort":
        return "interrupted", INTERRUPTED
    if callable(getattr(exc, "format_message", None)) and isinstance(getattr(exc, "exit_code", None), int):
        ctx = getattr(exc, "ctx", None)
        command = ctx.command_path if ctx is not None else "audiomm"
        return f"{exc.format_message().rstrip('.')}; see '{command} --help'", exc.exit_code
    return f"unexpected {name}: {first_line(exc)} (set AUDIOMM_DEBUG=1 for details)", 1


def die(text: str, code: int) -> None:
    """One ``error:`` line on stderr, then exit with ``code``."""
    fail(text)
    sys.exit(code)

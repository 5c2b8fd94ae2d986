"""User-facing errors: each one becomes a single ``error: ...`` line and a non-zero exit."""


def first_line(exc: BaseException, limit: int = 300) -> str:
    """The first non-empty line of an exception's message (its type's name if it has none), cut at ``limit``."""
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:limit]


class AudiommError(Exception):
    """An error the user can act on. The message is one line: what, where, what to do."""

    exit_code = 2

"""User-facing errors: each one becomes a single ``error: ...`` line and a non-zero exit."""


class AudiommError(Exception):
    """An error the user can act on. The message is one line: what, where, what to do."""

    exit_code = 2

"""Where audiomm keeps its data; the files a user names (read with a cap) and the outputs it writes
(checked before any work, written whole: a file through a temp file, a directory through a temp
directory swapped in)."""

from __future__ import annotations

import fnmatch
import os
import secrets
import shutil
import stat
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from platformdirs import user_data_dir

from audiomm.errors import AudiommError

TEXT_LIMIT_BYTES = 1_000_000  # a prompt, template, preset, systems file or manifest the user names
KINDS = (
    (stat.S_ISREG, "a file"),
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)


def data_dir() -> Path:
    """The user data dir (``AUDIOMM_HOME`` overrides it)."""
    env = os.environ.get("AUDIOMM_HOME")
    return Path(env) if env else Path(user_data_dir("audiomm", appauthor=False))


def default_db() -> Path:
    return data_dir() / "catalog.sqlite"


def kind_of(mode: int) -> str:
    """What a file is, in words ("a FIFO", "a character device"...), from its ``st_mode``."""
    return next((name for test, name in KINDS if test(mode)), "not a regular file")


def status(path: str | os.PathLike) -> os.stat_result | None:
    """``os.stat`` (symlinks followed), None when nothing is there."""
    try:
        return os.stat(path)
    except FileNotFoundError:
        return None


def read_user_text(path: Path, flag: str = "", limit: int = TEXT_LIMIT_BYTES) -> str:
    """The text of a file the user named: a regular file of at most ``limit`` bytes of UTF-8 text.

    Anything else (a FIFO, a device such as ``/dev/zero``, a socket, a huge or binary file) is one
    error line naming the file, what it is and what to do; nothing is read past the cap."""
    where = f"{flag} {path}" if flag else str(path)
    try:
        st = status(path)
        if st is None:
            raise AudiommError(f"{where}: no such file; check the path")
        if not stat.S_ISREG(st.st_mode):
            raise AudiommError(f"{where}: is {kind_of(st.st_mode)}, not a text file; give a regular file")
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))  # a FIFO swapped in never blocks
        with os.fdopen(fd, "rb") as fh:
            if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
                raise AudiommError(f"{where}: is not a regular file; give a regular file")
            data = fh.read(limit + 1)
    except OSError as exc:
        raise AudiommError(f"{where}: cannot read ({exc.strerror}); check the file") from None
    if len(data) > limit:
        raise AudiommError(
            f"{where}: is over the {limit / 1e6:g} MB limit for a text file; give a smaller file"
        )
    try:
        if b"\0" in data:
            raise UnicodeError
        return data.decode("utf-8")
    except UnicodeError:
        raise AudiommError(f"{where}: is not UTF-8 text (a binary file?); give a text file") from None


def output_file(path: Path, flag: str, inputs: Iterable[Path | None] = ()) -> Path:
    """Where ``flag`` will write a file, checked before any work: a regular file (a symlink's target) or
    nothing yet, none of ``inputs``, in a directory that exists and takes new files. The real path."""
    where = f"{flag} {path}"
    real = Path(os.path.realpath(path))
    st = status(real)
    if st is not None and not stat.S_ISREG(st.st_mode):
        raise AudiommError(
            f"{where}: is {kind_of(st.st_mode)}, not a regular file; give a file path to write"
        )
    for i in inputs:
        if st is not None and i is not None and status(i) is not None and os.path.samefile(real, i):
            raise AudiommError(
                f"{where}: is the input {i}; an output never replaces its input: choose another path"
            )
    if not real.parent.is_dir():
        raise AudiommError(
            f"{where}: directory {real.parent} does not exist; create it or choose another path"
        )
    writable(real.parent, where)
    return real


def output_dir(path: Path, flag: str = "", layout: Iterable[str] | None = None) -> Path:
    """A directory ``flag`` will write, checked before any work (nothing is made): absent or a directory,
    in a place that takes new files. With ``layout`` (the files a build writes, as patterns) the directory
    is replaced whole, so it may hold nothing else. The real path."""
    where = f"{flag} {path}" if flag else str(path)
    real = Path(os.path.realpath(path))
    st = status(real)
    if st is not None and not stat.S_ISDIR(st.st_mode):
        raise AudiommError(f"{where}: is {kind_of(st.st_mode)}, not a directory; give a directory path")
    if st is not None:
        writable(real, where)
    if layout is not None or st is None:
        writable(existing(real.parent), where)  # where the new directory (and its parents) will be made
    if layout is not None and st is not None:
        foreign = next(not_written_by(real, tuple(layout)), None)
        if foreign is not None:
            raise AudiommError(
                f"{where}: holds {foreign}, which audiomm does not write there; the directory is replaced"
                " whole: choose a new or empty directory"
            )
    return real


def existing(path: Path) -> Path:
    """``path`` or its nearest ancestor that exists."""
    while status(path) is None and path != path.parent:
        path = path.parent
    return path


def not_written_by(root: Path, layout: tuple[str, ...]) -> Iterator[str]:
    """Entries under ``root`` that no pattern of ``layout`` (``raw/models.csv``, ``families/*.md``) names."""
    dirs = {os.path.dirname(p) for p in layout} - {""}
    for here, subdirs, files in os.walk(root):
        rel = os.path.relpath(here, root)
        for d in subdirs:
            name = os.path.normpath(os.path.join(rel, d))
            if name not in dirs or os.path.islink(os.path.join(here, d)):
                yield name
        for f in files:
            name = Path(os.path.normpath(os.path.join(rel, f))).as_posix()
            if not any(fnmatch.fnmatchcase(name, p) for p in layout):
                yield name


def writable(directory: Path, where: str) -> None:
    """One error line unless a new file can be made in ``directory`` (tried, then removed)."""
    probe = temp_path(directory / "probe")
    try:
        os.close(os.open(probe, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        os.unlink(probe)
    except OSError as exc:
        raise AudiommError(
            f"{where}: cannot write in {directory} ({exc.strerror}); choose another path"
        ) from None


def temp_path(path: Path, tag: str = "tmp") -> Path:
    """A fresh hidden name beside ``path`` (``.NAME.RANDOM.tmp``)."""
    return path.with_name(f".{path.name}.{secrets.token_hex(6)}.{tag}")


def atomic_write(
    path: Path, write: Callable[[IO[str]], None], newline: str | None = None, durable: bool = True
) -> None:
    """Write a text file through a temp file in the same directory, then rename it into place.

    A crash mid-write leaves the previous file (or no file), never a half-written one. A symlink is
    written through (its target replaced, the link kept); a device, FIFO, socket or directory is
    refused. A new file gets ``0o666`` less the umask, an existing one keeps its mode. ``durable``: the data
    reaches the disk before the rename (fsync), so it survives a power cut too; a cache entry need not
    (after a power cut it may be missing or empty: a miss, never a wrong answer)."""
    real = Path(os.path.realpath(path))
    st = status(real)
    if st is not None and not stat.S_ISREG(st.st_mode):
        raise AudiommError(f"{path}: is {kind_of(st.st_mode)}, not a regular file; nothing written")
    real.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(real)
    fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666)  # the umask applies, as for any new file
    try:
        if st is not None:
            os.fchmod(fd, stat.S_IMODE(st.st_mode))
        with os.fdopen(fd, "w", encoding="utf-8", newline=newline) as fh:
            write(fh)
            fh.flush()
            if durable:
                os.fsync(fh.fileno())
        os.replace(tmp, real)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str, durable: bool = True) -> None:
    atomic_write(path, lambda fh: fh.write(text), durable=durable)


@contextmanager
def replaced_dir(out: Path, layout: Iterable[str]) -> Iterator[Path]:
    """A new directory beside ``out`` to write a whole output into (files named by ``layout``); once the
    block ends it takes ``out``'s place, and only then is the previous ``out`` removed. A failure leaves
    the previous ``out`` as it was and no temp directory behind."""
    real = output_dir(out, layout=layout)
    before = status(real)
    tmp = temp_path(real)
    real.parent.mkdir(parents=True, exist_ok=True)
    os.mkdir(tmp, 0o777)  # the umask applies
    try:
        if before is not None:
            os.chmod(tmp, stat.S_IMODE(before.st_mode))
        yield tmp
        swap_in(tmp, real)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def swap_in(new: Path, out: Path) -> None:
    """Put the complete directory ``new`` at ``out``; a previous ``out`` goes only once ``new`` is there."""
    if status(out) is None:
        os.rename(new, out)
        return
    old = temp_path(out, "old")
    os.rename(out, old)
    try:
        os.rename(new, out)
    except OSError:
        os.rename(old, out)
        raise
    shutil.rmtree(old, ignore_errors=True)


def expand(value: str, base: Path) -> str:
    """A value from a file: ``${VARS}`` and ``~`` expanded; ``./`` and ``../`` paths made relative to ``base``."""
    v = os.path.expanduser(os.path.expandvars(value))
    if v.startswith(("./", "../")):
        v = str((base / v).resolve())
    return v

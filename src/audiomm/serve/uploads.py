"""Request bodies into files the gateway names: multipart uploads streamed to disk with a running
count (never held whole, never past the limit), JSON bodies with a cap, base64 audio decoded in pieces.

A client's file name is kept as a label to show, never used in a path: every file here is
``<data dir>/uploads/<kind>-<random>``, written under a temporary name and renamed once complete.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import secrets
import wave
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, NoReturn

import numpy as np
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect, Request

from audiomm.audio.decode import DEFAULT_RATE, AudioError, probe, stream_audio
from audiomm.paths import TEXT_LIMIT_BYTES, temp_path
from audiomm.serve.errors import ApiError, TooLarge

DRAIN_BYTES = 256 * 2**20  # read and dropped after a refusal, so the client sees the answer, not a reset
BASE64_STEP = 4 * 2**20  # base64 characters decoded at a time (a multiple of 4)
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


@dataclass(frozen=True)
class Upload:
    """A recording the gateway received: where it keeps it, and what the client called it (shown only)."""

    path: Path
    name: str
    size: int


@dataclass
class Form:
    """A multipart body: its text fields (each name may repeat) and its one ``file``."""

    fields: dict[str, list[str]] = field(default_factory=dict)
    file: Upload | None = None


def label(name: str) -> str:
    """A client's name fit to show in a message or a result (no control characters, bounded)."""
    return _CONTROL.sub("?", name)[:200] or "upload"


class Spool:
    """The folder of received recordings; names are the gateway's own."""

    def __init__(self, root: Path):
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def new_path(self, kind: str = "req") -> Path:
        return self.root / f"{kind}-{secrets.token_hex(12)}"

    def clean(self, keep: set[Path]) -> int:
        """Remove what no job needs (requests cut short by a restart, half-written files); the count."""
        gone = 0
        for p in self.root.iterdir():
            if p not in keep and p.is_file():
                p.unlink(missing_ok=True)
                gone += 1
        return gone


def finish_file(fh: IO[bytes], tmp: Path, path: Path) -> None:
    """A complete file under its final name (flushed to disk first: a job's recording survives a crash)."""
    fh.flush()
    os.fsync(fh.fileno())
    fh.close()
    os.replace(tmp, path)


class Parts:
    """The callbacks of one multipart body: the ``file`` part streamed to disk with a running count, the
    other fields kept as text (each at most ``TEXT_LIMIT_BYTES``)."""

    def __init__(self, spool: Spool, limit: int):
        self.spool, self.limit = spool, limit
        self.form = Form()
        self.headers: dict[bytes, bytes] = {}
        self.header = [b"", b""]
        self.name, self.filename, self.text = "", "", bytearray()
        self.fh: IO[bytes] | None = None
        self.tmp = self.path = None
        self.size, self.over, self.ended = 0, False, False
        self.problem: str | None = None

    def callbacks(self) -> dict:
        names = ("part_begin", "part_data", "part_end", "header_field", "header_value", "header_end")
        calls = {f"on_{n}": getattr(self, f"on_{n}") for n in names}
        return {**calls, "on_headers_finished": self.on_headers_finished, "on_end": self.on_end}

    def on_part_begin(self) -> None:
        self.headers, self.name, self.filename, self.text = {}, "", "", bytearray()

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self.header[0] += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self.header[1] += data[start:end]

    def on_header_end(self) -> None:
        self.headers[self.header[0].strip().lower()] = self.header[1].strip()
        self.header = [b"", b""]

    def on_headers_finished(self) -> None:
        _, params = parse_options_header(self.headers.get(b"content-disposition", b""))
        self.name = params.get(b"name", b"").decode("utf-8", "replace")
        filename = params.get(b"filename")
        if self.name == "file" and filename is not None:
            if self.path is not None:
                self.problem = "send one file per request"
                return
            self.filename = label(filename.decode("utf-8", "replace"))
            self.path = self.spool.new_path()
            self.tmp = temp_path(self.path)
            self.fh = open(self.tmp, "xb")  # noqa: SIM115 - closed in on_part_end or discard

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self.fh is not None:
            self.size += end - start
            if self.size > self.limit:
                self.over = True
            else:
                self.fh.write(data[start:end])
        elif len(self.text) + end - start > TEXT_LIMIT_BYTES:
            self.problem = f"field {self.name!r} is over {TEXT_LIMIT_BYTES / 1e6:g} MB"
        else:
            self.text += data[start:end]

    def on_part_end(self) -> None:
        if self.fh is not None:
            finish_file(self.fh, self.tmp, self.path)
            self.fh = None
            self.form.file = Upload(self.path, self.filename, self.size)
        else:
            self.form.fields.setdefault(self.name, []).append(self.text.decode("utf-8", "replace"))

    def on_end(self) -> None:
        self.ended = True

    def discard(self) -> None:
        """Remove what was written (a refused or broken request)."""
        if self.fh is not None:
            self.fh.close()
        for p in (self.tmp, self.path):
            if p is not None:
                Path(p).unlink(missing_ok=True)


async def drain(chunks: AsyncIterator[bytes], limit: int = DRAIN_BYTES) -> None:
    """Read what is left of a refused body (up to ``limit`` bytes), so the client reads the refusal."""
    seen = 0
    try:
        async for chunk in chunks:
            seen += len(chunk)
            if seen > limit:
                return
    except ClientDisconnect:
        return


async def refuse(chunks: AsyncIterator[bytes], exc: Exception) -> NoReturn:
    """Drain the rest of the body, then raise ``exc``."""
    await drain(chunks)
    raise exc


def declared_size(request: Request) -> int | None:
    value = request.headers.get("content-length", "")
    return int(value) if value.isdigit() else None


async def read_form(request: Request, spool: Spool, limit: int) -> Form:
    """A multipart/form-data body; the ``file`` part goes to disk as it arrives, counted, and the body is
    refused (413) as soon as it passes ``limit`` bytes of audio."""
    chunks = request.stream()
    ctype, params = parse_options_header(request.headers.get("content-type", ""))
    if ctype != b"multipart/form-data" or b"boundary" not in params:
        await refuse(chunks, ApiError(400, "send the recording as multipart/form-data with a 'file' part"))
    if (declared_size(request) or 0) > limit + TEXT_LIMIT_BYTES:
        await refuse(chunks, TooLarge(limit))
    parts = Parts(spool, limit)
    parser = MultipartParser(params[b"boundary"], parts.callbacks())
    try:
        async for chunk in chunks:
            parser.write(chunk)
            if parts.over:
                await refuse(chunks, TooLarge(limit))
            if parts.problem:
                await refuse(chunks, ApiError(400, parts.problem))
    except BaseException:
        parts.discard()
        raise
    if not parts.ended:
        parts.discard()
        raise ApiError(400, "the multipart body ended early (the upload was cut off?)")
    return parts.form


async def read_json(request: Request, limit: int) -> Any:
    """A JSON body of at most ``limit`` bytes (refused with 413 as soon as it passes)."""
    chunks = request.stream()
    if (declared_size(request) or 0) > limit:
        await refuse(chunks, TooLarge(limit))
    body = bytearray()
    async for chunk in chunks:
        body += chunk
        if len(body) > limit:
            await refuse(chunks, TooLarge(limit))
    try:
        return json.loads(body)
    except ValueError:
        raise ApiError(400, "the request body is not JSON") from None


def save_base64(spool: Spool, data: str, name: str, limit: int) -> Upload:
    """Base64 audio (from a chat message) into a file, decoded in pieces."""
    if any(c.isspace() for c in data[:100]) or any(c.isspace() for c in data[-100:]):
        data = "".join(data.split())
    if len(data) // 4 * 3 > limit:
        raise TooLarge(limit)
    path = spool.new_path()
    tmp = temp_path(path)
    fh = open(tmp, "xb")  # noqa: SIM115 - finished or removed below
    try:
        for i in range(0, len(data), BASE64_STEP):
            fh.write(base64.b64decode(data[i : i + BASE64_STEP], validate=True))
        finish_file(fh, tmp, path)
    except (binascii.Error, ValueError):
        fh.close()
        tmp.unlink(missing_ok=True)
        raise ApiError(400, f"{name}: the audio data is not base64", param="messages") from None
    return Upload(path, name, path.stat().st_size)


def join_audio(spool: Spool, uploads: list[Upload]) -> Upload:
    """Several recordings as one (16 kHz mono WAV, in order), decoded and written block by block."""
    path = spool.new_path()
    tmp = temp_path(path)
    try:
        with wave.open(str(tmp), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(DEFAULT_RATE)
            for u in uploads:
                for block in stream_audio(checked(u).path):
                    w.writeframes((np.clip(block, -1.0, 1.0) * 32767.0).astype("<i2").tobytes())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return Upload(path, " + ".join(u.name for u in uploads), path.stat().st_size)


def checked(upload: Upload) -> Upload:
    """The upload if FFmpeg finds audio in it; else the decoder's own error, naming the client's file
    (never the gateway's path)."""
    try:
        probe(upload.path)
    except AudioError as exc:
        raise AudioError(in_words(str(exc), upload)) from None
    return upload


def in_words(message: str, upload: Upload) -> str:
    """``message`` with the gateway's path of ``upload`` replaced by the client's name for it."""
    return message.replace(str(upload.path), f"file {upload.name!r}")

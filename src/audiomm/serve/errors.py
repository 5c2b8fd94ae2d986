"""Errors in OpenAI's shape: ``{"error": {"message", "type", "param", "code"}}`` with the right status.

:func:`api_error` is the one place an exception (audiomm's own, the gateway's, or a bug) becomes the
error a client sees; :func:`error_response` sends it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from starlette.responses import JSONResponse

from audiomm.audio.decode import AudioError
from audiomm.backends.base import BackendError
from audiomm.config import scrub_urls
from audiomm.errors import AudiommError, first_line

log = logging.getLogger("audiomm.serve")


@dataclass(eq=False)
class ApiError(Exception):
    """An error as a client sees it (compared by identity, as exceptions are)."""

    status: int
    message: str
    type: str = "invalid_request_error"
    param: str | None = None
    code: str | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def body(self) -> dict:
        error = {"message": self.message, "type": self.type, "param": self.param, "code": self.code}
        return {"error": error}


class QueueFull(AudiommError):
    """Every slot is busy and the queue is full: the client should come back after ``retry_after`` s."""

    def __init__(self, waiting: int, retry_after: int):
        super().__init__(
            f"the gateway is busy ({waiting} recordings waiting, the most it queues); retry in {retry_after} s"
        )
        self.retry_after = retry_after


class TooLarge(AudiommError):
    """A request body over the upload limit."""

    def __init__(self, limit: int):
        super().__init__(
            f"the upload is over the gateway's limit of {limit / 1e6:g} MB (--max-upload-mb); send a"
            " smaller file or ask the operator to raise the limit"
        )


class SystemFailed(AudiommError):
    """A system's backend that could not be loaded or reached (503), or failed during the work (502)."""

    def __init__(self, system: str, problem: str, status: int):
        super().__init__(f"system {system!r}: {problem}")
        self.status = status


class Cancelled(AudiommError):
    """Work stopped because its client left or its job was cancelled."""


def api_error(exc: BaseException) -> ApiError:
    """The error a client sees for ``exc``; a bug is logged (without secrets) and shown as a 500."""
    if isinstance(exc, ApiError):
        return exc
    message = scrub_urls(str(exc))  # a server URL in a message never carries its credentials
    if isinstance(exc, Cancelled):  # nobody reads it: the client has gone (499, as proxies log it)
        return ApiError(499, message, code="client_closed")
    if isinstance(exc, QueueFull):
        retry = {"Retry-After": str(exc.retry_after)}
        return ApiError(429, message, "rate_limit_error", code="queue_full", headers=retry)
    if isinstance(exc, TooLarge):
        return ApiError(413, message, param="file", code="file_too_large")
    if isinstance(exc, SystemFailed):
        code = "backend_unavailable" if exc.status == 503 else "backend_error"
        return ApiError(exc.status, message, "server_error", code=code)
    if isinstance(exc, AudioError):
        return ApiError(400, message, param="file", code="invalid_audio")
    if isinstance(exc, BackendError):
        return ApiError(502, message, "server_error", code="backend_error")
    if isinstance(exc, AudiommError):
        return ApiError(400, message, code="invalid_request")
    log.error("unexpected %s: %s", type(exc).__name__, scrub_urls(first_line(exc)), exc_info=exc)
    return ApiError(
        500, f"unexpected {type(exc).__name__} in the gateway (its log has the details)", "server_error"
    )


def error_response(exc: BaseException) -> JSONResponse:
    """The response for ``exc`` (:func:`api_error`), with its headers (``Retry-After`` for a 429)."""
    e = api_error(exc)
    return JSONResponse(e.body(), status_code=e.status, headers=e.headers)

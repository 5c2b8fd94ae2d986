"""Any OpenAI-compatible server (vLLM, llama.cpp's llama-server, hosted APIs), over HTTP with urllib3.

Audio goes as an ``input_audio`` content part (base64 WAV), before or after the prompt as the model's
chat template puts it. On start the backend asks the server what it is (``GET /v1/models``): the runtime
(llama-server reports ``owned_by: llamacpp`` and ``meta.n_ctx``, vLLM ``max_model_len``), the context it
runs with, and whether it serves the model at all (llama-server answers any name: a silent alias). Requests
run with bounded concurrency over a pool of kept-alive connections; 408/409/429/5xx, dropped connections and
timeouts are retried with backoff (a server's ``Retry-After`` is honoured); each request has its own timeout.

The wire format is the OpenAI one, written here: a chat request's body is built once, with the audio's base64
spliced in as bytes (a 30 s chunk is 1.3 MB of base64): 1.7 ms of CPU a request, against 2.9 ms for the same
body through the openai SDK and 7.6 ms through its ``chat.completions.create`` (``python bench/requests.py``).
On a machine whose cores are busy with the front end of a batch, that was a tenth of the throughput.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

import pybase64
import urllib3
from urllib3.exceptions import HTTPError, MaxRetryError, ReadTimeoutError

from audiomm import __version__
from audiomm.backends.base import (
    BackendError,
    ContextExceeded,
    Request,
    Response,
    audible,
    concurrently,
    wav_bytes,
)
from audiomm.config import BackendConfig, public_url, resolve_api_key
from audiomm.errors import first_line
from audiomm.knowledge import spec_for

RUNTIMES = {"llamacpp": "llama.cpp", "vllm": "vllm"}  # owned_by in /v1/models -> the runtime
OLLAMA_OWNERS = ("library", "ollama")  # Ollama's OpenAI layer (it rejects audio parts)
RETRY_STATUS = frozenset({408, 409, 429, *range(500, 600)})  # asked again, with backoff
BACKOFF_S, BACKOFF_MAX_S = 0.5, 8.0
# urllib3 names the URL when it retries, and a URL may hold a key: only its errors are logged
logging.getLogger("urllib3").setLevel(logging.ERROR)
AUDIO_MARK = secrets.token_hex(16)  # stands for the audio's base64 in a body until it is spliced in


@dataclass(frozen=True)
class ServerInfo:
    """What ``GET /v1/models`` says: the runtime, the model ids served, the context the server runs with."""

    runtime: str  # llama.cpp | vllm | "" (another OpenAI-compatible server)
    models: tuple[str, ...]
    context_tokens: int | None


def server_info(listing: list[dict]) -> ServerInfo:
    """The typed reading of a ``/v1/models`` listing (raw JSON stops here)."""
    owners = {str(m.get("owned_by", "")) for m in listing}
    runtime = next((RUNTIMES[o] for o in owners if o in RUNTIMES), "")
    ctx = None
    for m in listing:
        meta = m.get("meta") if isinstance(m.get("meta"), dict) else {}
        value = meta.get("n_ctx") or m.get("max_model_len")  # llama-server: per slot; vLLM
        if isinstance(value, int) and value > 0:
            ctx = value if ctx is None else min(ctx, value)
    ids = tuple(str(i) for m in listing for i in (m.get("id"), *(m.get("aliases") or ())) if i)
    return ServerInfo(runtime, tuple(dict.fromkeys(ids)), ctx)


def split_query(url: str) -> tuple[str, dict[str, str]]:
    """A base URL without its query string, and the query's parameters."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(query="", fragment="")), dict(parse_qsl(parts.query))


def server_url(config: BackendConfig) -> str:
    """The server the user named (``--base-url``, else ``OPENAI_BASE_URL``). There is no default: a forgotten
    flag must not send a private recording to a remote host."""
    url = next(iter(config.servers()), None) or os.environ.get("OPENAI_BASE_URL")
    if not url:
        raise BackendError(
            f"no server for {config.model!r}: pass --base-url (e.g. http://localhost:8000/v1) or set OPENAI_BASE_URL;"
            " audiomm sends audio only to a host you name"
        )
    return url


class OpenAIBackend:
    name = "openai"
    concurrent = True

    def __init__(self, config: BackendConfig):
        self.model = config.model
        self.base_url = server_url(config)
        self.endpoint = public_url(self.base_url)
        self.cache_id = f"{self.model}@{self.endpoint}"
        self.batch_size = config.concurrency
        self.retries = config.retries
        self.transcriptions, self.language = config.transcriptions, config.language
        self.url, query = split_query(self.base_url)  # a ?key=... stays a query parameter of every request
        self.query = f"?{urlencode(query)}" if query else ""
        self.http = urllib3.PoolManager(
            maxsize=max(1, config.concurrency),
            headers=auth_headers(self.url, resolve_api_key(config)),
            timeout=urllib3.Timeout(connect=config.timeout, read=config.timeout),
            retries=urllib3.Retry(
                total=config.retries,
                backoff_factor=BACKOFF_S,
                backoff_max=BACKOFF_MAX_S,
                status_forcelist=RETRY_STATUS,
                allowed_methods=None,  # a chat request changes nothing on the server: asked again as well
                raise_on_status=False,  # the last answer is read, and named, below
            ),
        )
        self.server = self._ask_server()
        self.spec = spec_for(
            self.model, runtime=self.server.runtime or None, context_tokens=self.server.context_tokens
        )

    def _ask_server(self) -> ServerInfo:
        """What the server is; one clear line if it is unreachable, is Ollama's OpenAI layer, or does not
        serve the model. A server without ``/v1/models`` is taken as it is."""
        status, reply = self._call("GET", "/models")
        if status in (404, 405, 422):
            return ServerInfo("", (), None)
        data = self._checked(status, reply)
        listing = data.get("data") if isinstance(data, dict) else None
        listing = [m for m in listing if isinstance(m, dict)] if isinstance(listing, list) else []
        if {str(m.get("owned_by")) for m in listing} & set(OLLAMA_OWNERS):
            raise BackendError(
                f"{self.endpoint} is Ollama's OpenAI layer, which rejects audio; use --backend ollama"
                f" --base-url {self.endpoint.removesuffix('/v1')}"
            )
        info = server_info(listing)
        if info.runtime and info.models and self.model not in info.models:
            served = ", ".join(info.models[:5])
            raise BackendError(
                f"{self.endpoint} serves {served}, not {self.model!r}; pass --model with one of them"
            )
        return info

    def _messages(self, req: Request, audio: str) -> list[dict]:
        content: list[dict] = [{"type": "text", "text": req.prompt}]
        if req.audio is not None:
            part = {"type": "input_audio", "input_audio": {"data": audio, "format": "wav"}}
            content = [part, *content] if self.spec.audio_position == "before_text" else [*content, part]
        messages: list[dict] = [{"role": "system", "content": req.system}] if req.system else []
        return [*messages, {"role": "user", "content": content}]

    def chat_body(self, req: Request) -> bytes:
        """The chat-completions request for ``req`` as JSON bytes, its audio (base64 WAV) spliced in."""
        s = req.settings
        body = {
            "model": self.model,
            "messages": self._messages(req, AUDIO_MARK),
            "max_tokens": s.max_new_tokens,
            "temperature": s.temperature,
        }
        if s.seed is not None:
            body["seed"] = s.seed
        text = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
        if req.audio is None:
            return text
        head, _, tail = text.partition(f'"{AUDIO_MARK}"'.encode())  # the JSON string, quotes included
        return b"".join((head, b'"', pybase64.b64encode(wav_bytes(audible(req.audio))), b'"', tail))

    def _transcribe(self, req: Request) -> Response:
        """A verbatim request through the server's transcription endpoint (the chunking stays audiomm's)."""
        t = time.perf_counter()
        fields: dict[str, Any] = {
            "model": self.model,
            "file": ("chunk.wav", wav_bytes(audible(req.audio)), "audio/wav"),
            "response_format": "json",
            "temperature": str(req.settings.temperature),
        }
        if self.language:
            fields["language"] = self.language
        data = self._checked(*self._call("POST", "/audio/transcriptions", fields=fields))
        text = data.get("text") if isinstance(data, dict) else None
        if not isinstance(text, str | None):
            raise BackendError(f"{self.endpoint} sent a transcription whose text is {type(text).__name__}")
        return Response(text=(text or "").strip(), finish_reason="stop", seconds=time.perf_counter() - t)

    def _one(self, req: Request) -> Response:
        if self.transcriptions and req.verbatim and req.audio is not None:
            return self._transcribe(req)
        t = time.perf_counter()
        reply = self._call("POST", "/chat/completions", body=self.chat_body(req))
        return self._response(self._checked(*reply), time.perf_counter() - t)

    def _call(self, method: str, path: str, **kw) -> tuple[int, bytes | str]:
        """One request (retried as the pool's ``Retry`` says): the last answer's status and body (text if
        it is not JSON). A failure to get any answer is one :class:`BackendError` line."""
        headers = {**self.http.headers, "Content-Type": "application/json"} if "body" in kw else None
        try:
            r = self.http.request(method, f"{self.url}{path}{self.query}", headers=headers, **kw)
        except (HTTPError, OSError) as exc:
            raise self._failed(exc) from None
        ctype = r.headers.get("Content-Type", "")
        return r.status, (r.data if "json" in ctype or not ctype else r.data.decode("utf-8", "replace"))

    def _checked(self, status: int, reply: bytes | str) -> Any:
        """The JSON of a 2xx answer; any other answer is one line (:meth:`_refused`)."""
        if not 200 <= status < 300:
            raise self._refused(status, _json(reply))
        if isinstance(reply, str):
            return reply  # an HTML page or plain text: named by the caller
        try:
            return json.loads(reply)
        except ValueError as exc:
            raise BackendError(
                f"{self.endpoint} sent a reply that is not a chat completion (not JSON: {first_line(exc, 80)})"
            ) from None

    def _response(self, r: Any, seconds: float) -> Response:
        """A chat completion's JSON as a :class:`Response`, checked: a server that answers something other
        than a chat completion (an HTML page, a list, a number as the content) is named as such."""
        bad = f"{self.endpoint} sent a reply that is not a chat completion"
        if not isinstance(r, dict) or "choices" not in r:
            raise BackendError(
                f"{bad} ({type(r).__name__}: {str(r)[:80]!r}); is --base-url an OpenAI-compatible /v1 URL?"
            )
        choices = r["choices"]
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
            raise BackendError(f"{bad} (choices: {str(choices)[:80]!r})")
        message = choices[0].get("message")
        content = message.get("content") if isinstance(message, dict) else None
        if content is not None and not isinstance(content, str):
            raise BackendError(f"{bad} (message content is {type(content).__name__}, not text)")
        usage = r.get("usage") if isinstance(r.get("usage"), dict) else {}
        return Response(
            text=(content or "").strip(),
            finish_reason=str(choices[0].get("finish_reason") or "stop"),
            prompt_tokens=_count(usage.get("prompt_tokens")),
            completion_tokens=_count(usage.get("completion_tokens")),
            seconds=seconds,
        )

    def _failed(self, exc: Exception) -> BackendError:
        """No answer at all (after the retries): unreachable, or too slow. The exception's own text is
        never shown: it holds the URL, and the URL may hold a key."""
        retried = f" (after {self.retries} retries)" if self.retries else ""
        reason = exc.reason if isinstance(exc, MaxRetryError) else exc
        if isinstance(reason, ReadTimeoutError):
            return BackendError(f"{self.endpoint}: request timed out{retried}; raise --timeout")
        return BackendError(f"cannot reach {self.endpoint}; is the server running? (--base-url)")

    def _refused(self, status: int, body: Any) -> BackendError:
        """The one place an HTTP error answer becomes a line the user can act on."""
        where, message = self.endpoint, _message(body, status)
        retried = f" (after {self.retries} retries)" if self.retries else ""
        err = body.get("error", body) if isinstance(body, dict) else {}
        err = err if isinstance(err, dict) else {}
        if status == 401:
            return BackendError(f"{where} rejected the API key; set --api-key or OPENAI_API_KEY")
        if status == 404:
            return BackendError(f"{where} has no model {self.model!r}; check --model")
        if err.get("type") == "exceed_context_size_error" or status == 400 and "context" in message:
            return ContextExceeded(f"{where}: {message}", err.get("n_prompt_tokens"), err.get("n_ctx"))
        again = retried if status in RETRY_STATUS else ""
        if self.server.runtime == "llama.cpp" and "Context size has been exceeded" in message:
            return BackendError(
                f"{where}: llama-server's KV cache is full{again} (without --parallel its slots share -c tokens);"
                " lower --concurrency, or start it with --parallel N and -c N times the context"
            )
        return BackendError(f"{where} answered HTTP {status}{again}: {message}")

    def generate(self, requests: list[Request]) -> Iterator[tuple[int, Response]]:
        return concurrently(self._one, requests, self.batch_size)


def auth_headers(url: str, api_key: str | None) -> dict[str, str]:
    """The headers every request carries: the API key as a bearer token, or the user and password of the
    URL (``http://user:pass@host/v1``) as basic auth."""
    headers = {"User-Agent": f"audiomm/{__version__}"}
    parts = urlsplit(url)
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    elif parts.username:
        user = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
        headers.update(urllib3.make_headers(basic_auth=user))
    return headers


def _json(reply: bytes | str) -> Any:
    try:
        return json.loads(reply)
    except ValueError:
        return reply


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _message(body: Any, status: int) -> str:
    """What an error answer says (an OpenAI-style ``error.message``), at most 300 characters."""
    if isinstance(body, dict):
        err = body.get("error", body)
        if isinstance(err, dict):
            return str(err.get("message", err))[:300]
        return str(err)[:300]
    text = first_line(str(body), 300) if body else ""
    return text or f"HTTP {status}"

"""Any OpenAI-compatible server (vLLM, llama.cpp's llama-server, hosted APIs), via the openai SDK.

Audio goes as an ``input_audio`` content part (base64 WAV), before or after the prompt as the model's
chat template puts it. On start the backend asks the server what it is (``GET /v1/models``): the runtime
(llama-server reports ``owned_by: llamacpp`` and ``meta.n_ctx``, vLLM ``max_model_len``), the context it
runs with, and whether it serves the model at all (llama-server answers any name: a silent alias). Requests
run with bounded concurrency; the SDK retries 429/5xx/timeouts with backoff; each request has its own timeout.

A chat request's body is built here, with the audio's base64 spliced in as bytes: a 30 s chunk is 1.3 MB of
base64, and passing it through the SDK's checks and a JSON encoder cost more CPU than all the rest of the
request (``python bench/batch.py`` shows what a batch gains).
"""

from __future__ import annotations

import json
import os
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pybase64

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
    from urllib.parse import parse_qsl, urlsplit, urlunsplit

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
        import openai

        self._openai = openai
        self.model = config.model
        self.base_url = server_url(config)
        self.endpoint = public_url(self.base_url)
        self.cache_id = f"{self.model}@{self.endpoint}"
        self.batch_size = config.concurrency
        self.retries = config.retries
        self.transcriptions, self.language = config.transcriptions, config.language
        url, query = split_query(self.base_url)  # a ?key=... stays a query parameter of every request
        self.client = openai.OpenAI(
            base_url=url,
            api_key=resolve_api_key(config) or "no-key",
            timeout=config.timeout,
            max_retries=config.retries,
            default_query=query or None,
        )
        self.server = self._ask_server()
        self.spec = spec_for(
            self.model, runtime=self.server.runtime or None, context_tokens=self.server.context_tokens
        )

    def _ask_server(self) -> ServerInfo:
        """What the server is; one clear line if it is unreachable, is Ollama's OpenAI layer, or does not
        serve the model. A server without ``/v1/models`` is taken as it is."""
        try:
            listing = [m.to_dict() for m in self.client.models.list()]
        except (self._openai.NotFoundError, self._openai.UnprocessableEntityError):
            return ServerInfo("", (), None)
        except self._openai.OpenAIError as exc:
            raise self._error(exc) from None
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
        head, mark, tail = text.partition(f'"{AUDIO_MARK}"'.encode())  # the JSON string, quotes included
        return b"".join((head, b'"', pybase64.b64encode(wav_bytes(audible(req.audio))), b'"', tail))

    def _transcribe(self, req: Request) -> Response:
        """A verbatim request through the server's transcription endpoint (the chunking stays audiomm's)."""
        t = time.perf_counter()
        extra = {"language": self.language} if self.language else {}
        try:
            r = self.client.audio.transcriptions.create(
                model=self.model,
                file=("chunk.wav", wav_bytes(audible(req.audio)), "audio/wav"),
                response_format="json",
                temperature=req.settings.temperature,
                **extra,
            )
        except self._openai.OpenAIError as exc:
            raise self._error(exc) from None
        return Response(text=(r.text or "").strip(), finish_reason="stop", seconds=time.perf_counter() - t)

    def _one(self, req: Request) -> Response:
        if self.transcriptions and req.verbatim and req.audio is not None:
            return self._transcribe(req)
        t = time.perf_counter()
        try:
            r = self.client.post(
                "/chat/completions",
                cast_to=self._openai.types.chat.ChatCompletion,
                content=self.chat_body(req),
            )
        except self._openai.OpenAIError as exc:
            raise self._error(exc) from None
        except ValueError as exc:  # the SDK parses the body itself: a body that is not JSON
            raise BackendError(
                f"{self.endpoint} sent a reply that is not a chat completion (not JSON: {first_line(exc, 80)})"
            ) from None
        return self._response(r, time.perf_counter() - t)

    def _response(self, r, seconds: float) -> Response:
        """The SDK's parsed reply, checked: a server that answers something other than a chat completion
        (an HTML page, a list, a number as the content) is named as such."""
        bad = f"{self.endpoint} sent a reply that is not a chat completion"
        if isinstance(r, str) or not hasattr(r, "choices"):
            raise BackendError(
                f"{bad} ({type(r).__name__}: {str(r)[:80]!r}); is --base-url an OpenAI-compatible /v1 URL?"
            )
        choices = r.choices
        if not isinstance(choices, list) or not choices:
            raise BackendError(f"{bad} (choices: {str(choices)[:80]!r})")
        message = getattr(choices[0], "message", None)
        content = getattr(message, "content", None)
        if content is not None and not isinstance(content, str):
            raise BackendError(f"{bad} (message content is {type(content).__name__}, not text)")
        usage = r.usage
        return Response(
            text=(content or "").strip(),
            finish_reason=str(choices[0].finish_reason or "stop"),
            prompt_tokens=getattr(usage, "prompt_tokens", None) if usage else None,
            completion_tokens=getattr(usage, "completion_tokens", None) if usage else None,
            seconds=seconds,
        )

    def _error(self, exc: Exception) -> BackendError:
        """The one place an SDK error becomes a line the user can act on."""
        o, where = self._openai, self.endpoint
        retried = f" (after {self.retries} retries)" if self.retries else ""
        if isinstance(exc, o.APIResponseValidationError):
            return BackendError(
                f"{where} sent a reply that is not a chat completion ({first_line(exc, 120)})"
            )
        if isinstance(exc, o.APITimeoutError):
            return BackendError(f"{where}: request timed out{retried}; raise --timeout")
        if isinstance(exc, o.APIConnectionError):
            return BackendError(f"cannot reach {where}; is the server running? (--base-url)")
        if isinstance(exc, o.AuthenticationError):
            return BackendError(f"{where} rejected the API key; set --api-key or OPENAI_API_KEY")
        if isinstance(exc, o.NotFoundError):
            return BackendError(f"{where} has no model {self.model!r}; check --model")
        if isinstance(exc, o.APIStatusError):
            body = exc.body if isinstance(exc.body, dict) else {}
            err = body.get("error", body) if isinstance(body.get("error", body), dict) else {}
            if (
                err.get("type") == "exceed_context_size_error"
                or exc.status_code == 400
                and "context" in _message(exc)
            ):
                return ContextExceeded(
                    f"{where}: {_message(exc)}", err.get("n_prompt_tokens"), err.get("n_ctx")
                )
            again = retried if exc.status_code == 429 or exc.status_code >= 500 else ""
            if self.server.runtime == "llama.cpp" and "Context size has been exceeded" in _message(exc):
                return BackendError(
                    f"{where}: llama-server's KV cache is full{again} (without --parallel its slots share -c tokens);"
                    " lower --concurrency, or start it with --parallel N and -c N times the context"
                )
            return BackendError(f"{where} answered HTTP {exc.status_code}{again}: {_message(exc)}")
        return BackendError(f"{where}: {first_line(exc)}")

    def generate(self, requests: list[Request]) -> Iterator[tuple[int, Response]]:
        return concurrently(self._one, requests, self.batch_size)


def _message(exc: Exception) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        err = body.get("error", body)
        if isinstance(err, dict):
            return str(err.get("message", err))[:300]
    return first_line(exc, 300)

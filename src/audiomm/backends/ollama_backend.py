"""Ollama, through its native API (the official ``ollama`` client).

Ollama's OpenAI-compatible layer rejects audio parts ("invalid message format"); its native
``/api/chat`` takes audio as base64 WAV in a message's ``images`` list (Gemma 3n / Gemma 4 audio).
The model's context comes from ``/api/show``; each request asks for the context it needs
(``num_ctx``) and no more output than ``num_predict``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

from audiomm.backends.base import (
    BackendError,
    Request,
    Response,
    audible,
    audio_seconds,
    concurrently,
    wav_bytes,
)
from audiomm.config import BackendConfig, public_url
from audiomm.errors import first_line
from audiomm.knowledge import ModelSpec, spec_for

DEFAULT_HOST = "http://127.0.0.1:11434"
PROMPT_TOKENS = 512  # room for the chat template, system prompt and instruction in num_ctx
RETRY_STATUS = (429, 500, 502, 503, 504)


class OllamaBackend:
    name = "ollama"
    concurrent = True

    def __init__(self, config: BackendConfig):
        try:
            import ollama
        except ImportError:
            raise BackendError("the ollama backend needs the ollama package: pip install ollama") from None
        self._ollama = ollama
        self.model = config.model
        host = next(iter(config.servers()), None) or os.environ.get("OLLAMA_HOST") or DEFAULT_HOST
        self.base_url = host.removesuffix("/").removesuffix("/v1")
        self.endpoint = public_url(self.base_url)
        self.cache_id = f"{self.model}@{self.endpoint}"
        self.batch_size = config.concurrency
        self.retries = config.retries
        self.client = ollama.Client(host=self.base_url, timeout=config.timeout)
        show = self._show()
        self.spec = self._spec(show)
        self.think = (
            False if "thinking" in (show.get("capabilities") or []) else None
        )  # else audio can come back empty

    def _show(self) -> dict:
        """``/api/show`` for the model: it must exist on this server (no silent alias)."""
        try:
            return self._call(lambda: self.client.show(self.model)).model_dump()
        except BackendError as exc:
            if "not found" in str(exc):
                raise BackendError(
                    f"{self.endpoint} has no model {self.model!r}; run: ollama pull {self.model}"
                ) from None
            raise

    def _spec(self, show: dict) -> ModelSpec:
        """The knowledge base's facts on Ollama, with the context the model reports (``<arch>.context_length``)."""
        info = show.get("modelinfo") or show.get("model_info") or {}
        lengths = [v for k, v in info.items() if k.endswith(".context_length") and isinstance(v, int)]
        return spec_for(self.model, runtime="ollama", context_tokens=lengths[0] if lengths else None)

    def _call(self, fn):
        """One call with retries and backoff on 429/5xx and dropped connections; errors in one line."""
        o = self._ollama
        for attempt in range(self.retries + 1):
            try:
                return fn()
            except o.ResponseError as exc:
                if exc.status_code not in RETRY_STATUS or attempt == self.retries:
                    raise BackendError(
                        f"{self.endpoint} answered HTTP {exc.status_code}: {first_line(exc.error)}"
                    ) from None
            except (ConnectionError, OSError) as exc:
                if attempt == self.retries:
                    raise BackendError(
                        f"cannot reach Ollama at {self.endpoint}; is it running? ({first_line(exc)})"
                    ) from None
            except Exception as exc:  # noqa: BLE001 - httpx timeouts and protocol errors
                if attempt == self.retries:
                    raise BackendError(f"{self.endpoint}: {type(exc).__name__}: {first_line(exc)}") from None
            time.sleep(min(8.0, 0.5 * 2**attempt))
        raise AssertionError("unreachable")

    def _messages(self, req: Request) -> list[dict]:
        messages: list[dict] = [{"role": "system", "content": req.system}] if req.system else []
        user: dict = {"role": "user", "content": req.prompt}
        if req.audio is not None:
            user["images"] = [wav_bytes(audible(req.audio))]
        return [*messages, user]

    def _one(self, req: Request) -> Response:
        s = req.settings
        audio_tokens = int(audio_seconds(req) * self.spec.audio_tokens_per_s) + 1
        num_ctx = min(
            self.spec.context_tokens, PROMPT_TOKENS + len(req.prompt) // 3 + audio_tokens + s.max_new_tokens
        )
        options = {"temperature": s.temperature, "num_predict": s.max_new_tokens, "num_ctx": num_ctx}
        if s.seed is not None:
            options["seed"] = s.seed
        t = time.perf_counter()
        messages = self._messages(req)
        r = self._call(
            lambda: self.client.chat(self.model, messages=messages, options=options, think=self.think)
        )
        return Response(
            text=(r.message.content or "").strip(),
            finish_reason=r.done_reason or "stop",
            prompt_tokens=r.prompt_eval_count,
            completion_tokens=r.eval_count,
            seconds=time.perf_counter() - t,
        )

    def generate(self, requests: list[Request]) -> Iterator[tuple[int, Response]]:
        return concurrently(self._one, requests, self.batch_size)

"""Any OpenAI-compatible server (vLLM, llama.cpp's llama-server, hosted APIs), via the openai SDK.

Audio goes as an ``input_audio`` content part (base64 WAV). Requests run with bounded concurrency;
the SDK retries 429/5xx/timeouts with backoff; each request has its own timeout.
"""

from __future__ import annotations

import base64
import os
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed

from audiomm.backends.base import BackendError, Request, Response, wav_bytes
from audiomm.config import BackendConfig, public_url, resolve_api_key
from audiomm.errors import first_line
from audiomm.knowledge import spec_for

DEFAULT_BASE_URL = "https://api.openai.com/v1"


class OpenAIBackend:
    name = "openai"

    def __init__(self, config: BackendConfig):
        import openai

        self._openai = openai
        self.model = config.model
        self.base_url = config.base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL
        self.endpoint = public_url(self.base_url)
        self.cache_id = f"{self.model}@{self.endpoint}"
        self.spec = spec_for(self.model)
        self.batch_size = config.concurrency
        self.client = openai.OpenAI(
            base_url=self.base_url,
            api_key=resolve_api_key(config) or "no-key",
            timeout=config.timeout,
            max_retries=config.retries,
        )

    def _messages(self, req: Request) -> list[dict]:
        content: list[dict] = [{"type": "text", "text": req.prompt}]
        if req.audio is not None:
            data = base64.b64encode(wav_bytes(req.audio)).decode("ascii")
            content.append({"type": "input_audio", "input_audio": {"data": data, "format": "wav"}})
        messages: list[dict] = []
        if req.system:
            messages.append({"role": "system", "content": req.system})
        messages.append({"role": "user", "content": content})
        return messages

    def _one(self, req: Request) -> Response:
        t = time.perf_counter()
        try:
            r = self.client.chat.completions.create(
                model=self.model,
                messages=self._messages(req),
                max_tokens=req.settings.max_new_tokens,
                temperature=req.settings.temperature,
                seed=req.settings.seed,
            )
        except self._openai.OpenAIError as exc:
            raise self._error(exc) from None
        if not r.choices:
            raise BackendError(f"{self.endpoint} returned no choices for {self.model}")
        ch = r.choices[0]
        usage = r.usage
        return Response(
            text=(ch.message.content or "").strip(),
            finish_reason=ch.finish_reason or "stop",
            prompt_tokens=usage.prompt_tokens if usage else None,
            completion_tokens=usage.completion_tokens if usage else None,
            seconds=time.perf_counter() - t,
        )

    def _error(self, exc: Exception) -> BackendError:
        """The one place an SDK error becomes a line the user can act on."""
        o, where = self._openai, self.endpoint
        if isinstance(exc, o.APITimeoutError):
            return BackendError(f"{where}: request timed out (after retries); raise --timeout")
        if isinstance(exc, o.APIConnectionError):
            return BackendError(f"cannot reach {where}; is the server running? (--base-url)")
        if isinstance(exc, o.AuthenticationError):
            return BackendError(f"{where} rejected the API key; set --api-key or OPENAI_API_KEY")
        if isinstance(exc, o.NotFoundError):
            return BackendError(f"{where} has no model {self.model!r}; check --model")
        if isinstance(exc, o.APIStatusError):
            return BackendError(f"{where} answered HTTP {exc.status_code} (after retries): {_message(exc)}")
        return BackendError(f"{where}: {first_line(exc)}")

    def generate(self, requests: list[Request]) -> Iterator[tuple[int, Response]]:
        with ThreadPoolExecutor(max_workers=self.batch_size) as pool:
            futures = {pool.submit(self._one, r): i for i, r in enumerate(requests)}
            try:
                for fut in as_completed(futures):
                    yield futures[fut], fut.result()
            finally:
                for f in futures:
                    f.cancel()


def _message(exc: Exception) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        err = body.get("error", body)
        if isinstance(err, dict):
            return str(err.get("message", err))[:200]
    return first_line(exc, 200)

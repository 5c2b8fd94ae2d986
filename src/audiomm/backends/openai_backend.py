"""Any OpenAI-compatible server (vLLM, llama.cpp's llama-server, Ollama, hosted APIs), via the openai SDK.

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
from audiomm.errors import first_line


class OpenAIBackend:
    name = "openai"

    def __init__(
        self,
        model: str,
        base_url: str | None = None,
        api_key: str | None = None,
        *,
        concurrency: int = 4,
        timeout: float = 300.0,
        max_retries: int = 5,
    ):
        import openai

        self._openai = openai
        self.model = model
        self.base_url = base_url or os.environ.get("OPENAI_BASE_URL") or "https://api.openai.com/v1"
        key = api_key or os.environ.get("AUDIOMM_API_KEY") or os.environ.get("OPENAI_API_KEY") or "no-key"
        self.client = openai.OpenAI(
            base_url=self.base_url, api_key=key, timeout=timeout, max_retries=max_retries
        )
        self.concurrency = max(1, concurrency)

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
        o = self._openai
        t = time.perf_counter()
        try:
            r = self.client.chat.completions.create(
                model=self.model,
                messages=self._messages(req),
                max_tokens=req.settings.max_new_tokens,
                temperature=req.settings.temperature,
                seed=req.settings.seed,
            )
        except o.APITimeoutError:
            raise BackendError(
                f"{self.base_url}: request timed out (after retries); raise --timeout"
            ) from None
        except o.APIConnectionError:
            raise BackendError(f"cannot reach {self.base_url}; is the server running? (--base-url)") from None
        except o.AuthenticationError:
            raise BackendError(
                f"{self.base_url} rejected the API key; set --api-key or OPENAI_API_KEY"
            ) from None
        except o.NotFoundError:
            raise BackendError(f"{self.base_url} has no model {self.model!r}; check --model") from None
        except o.APIStatusError as exc:
            raise BackendError(
                f"{self.base_url} answered HTTP {exc.status_code} (after retries): {_msg(exc)}"
            ) from None
        if not r.choices:
            raise BackendError(f"{self.base_url} returned no choices for {self.model}")
        ch = r.choices[0]
        usage = r.usage
        return Response(
            text=(ch.message.content or "").strip(),
            finish_reason=ch.finish_reason or "stop",
            prompt_tokens=getattr(usage, "prompt_tokens", None),
            completion_tokens=getattr(usage, "completion_tokens", None),
            seconds=time.perf_counter() - t,
        )

    def generate(self, requests: list[Request]) -> Iterator[tuple[int, Response]]:
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            futures = {pool.submit(self._one, r): i for i, r in enumerate(requests)}
            try:
                for fut in as_completed(futures):
                    yield futures[fut], fut.result()
            finally:
                for f in futures:
                    f.cancel()


def _msg(exc: Exception) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        err = body.get("error", body)
        if isinstance(err, dict):
            return str(err.get("message", err))[:200]
    return first_line(exc, 200)

"""A local OpenAI-compatible server that checks each request against the chat-completions wire format.

It decodes every ``input_audio`` part (base64 WAV), records its sample rate and duration, and answers
with text derived from the audio, so tests can check what the model "heard". Faults: 429, 500,
timeouts, and a crash (persistent 500s) after N audio requests; a ``finish_reason`` of ``length``.
"""

from __future__ import annotations

import base64
import io
import json
import threading
import time
import wave
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler

import numpy as np

from tests.helpers.local_server import LocalServer

MODEL = "qwen2-audio-7b-instruct"  # the model the server serves, unless told otherwise


@dataclass
class OpenAIState:
    model: str = MODEL
    api_key: str | None = None
    faults: list[tuple[str, int]] = field(default_factory=list)  # (kind, times): 429 | 500 | timeout
    crash_after: int | None = None  # audio requests served before every further one fails
    length_for: int = 0  # this many audio answers end with finish_reason=length
    delay: float = 0.0
    audio: list[dict] = field(default_factory=list)  # one per audio request served (with its prompt text)
    text_requests: list[dict] = field(default_factory=list)
    replies: list[str] = field(default_factory=list)  # scripted answers to text requests, in order
    errors: list[str] = field(default_factory=list)  # wire-format violations seen
    models: list[dict] | None = None  # the /v1/models listing (None: this model, owned by "test")
    context_limit_chars: int | None = None  # longer text prompts get llama-server's exceed_context_size_error
    parts: list[list[str]] = field(default_factory=list)  # each user message's part types, in order
    transcriptions: list[dict] = field(default_factory=list)  # /v1/audio/transcriptions requests
    queries: list[str] = field(default_factory=list)  # query strings of the requests
    authorizations: list[str] = field(default_factory=list)  # the Authorization header of each POST
    parse: bool = (
        True  # False: a chat request is read whole and answered, not parsed or checked (bench/batch.py:
    )
    # a stand-in for a server on another machine, light on this one's CPU)
    lock: threading.Lock = field(default_factory=threading.Lock)


def check_request(body: dict) -> tuple[list[str], dict | None, str]:
    """Wire-format checks; returns (problems, audio info or None, user text)."""
    problems = []
    if not isinstance(body.get("model"), str):
        problems.append("model missing")
    msgs = body.get("messages")
    if not isinstance(msgs, list) or not msgs:
        return problems + ["messages missing"], None, ""
    audio, text = None, ""
    for m in msgs:
        if m.get("role") not in ("system", "user", "assistant"):
            problems.append(f"bad role {m.get('role')}")
        content = m.get("content")
        if isinstance(content, str):
            if m["role"] == "user":
                text = content
            continue
        if not isinstance(content, list):
            problems.append("content is neither a string nor a list")
            continue
        for part in content:
            if part.get("type") == "text":
                text = part.get("text", "")
            elif part.get("type") == "input_audio":
                ia = part.get("input_audio") or {}
                if ia.get("format") != "wav" or not isinstance(ia.get("data"), str):
                    problems.append("input_audio needs data (base64) and format 'wav'")
                    continue
                raw = base64.b64decode(ia["data"], validate=True)
                with wave.open(io.BytesIO(raw)) as w:
                    rate, ch, width, n = w.getframerate(), w.getnchannels(), w.getsampwidth(), w.getnframes()
                    pcm = np.frombuffer(w.readframes(n), "<i2").astype(np.float32) / 32767
                audio = {
                    "rate": rate,
                    "channels": ch,
                    "width": width,
                    "duration_s": n / rate,
                    "rms": float(np.sqrt(np.mean(pcm**2))) if n else 0.0,
                }
            else:
                problems.append(f"unknown content part {part.get('type')}")
    if not isinstance(body.get("max_tokens", body.get("max_completion_tokens", 1)), int):
        problems.append("max_tokens not an integer")
    return problems, audio, text


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out at once (no 40 ms wait for a delayed ACK)
    state: OpenAIState

    def log_message(self, *args) -> None:
        pass

    def _raw(self, status: int, content_type: str, raw: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def _send(self, status: int, obj: dict) -> None:
        raw = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def route(self) -> str:
        """The path without its query string (recorded: a key may travel there)."""
        path, _, query = self.path.partition("?")
        if query:
            with self.state.lock:
                self.state.queries.append(query)
        return path

    def do_GET(self) -> None:  # noqa: N802
        st = self.state
        if self.route() != "/v1/models":
            return self._send(404, {"error": {"message": "not found"}})
        listing = (
            st.models if st.models is not None else [{"id": st.model, "object": "model", "owned_by": "test"}]
        )
        self._send(200, {"object": "list", "data": listing})

    def do_POST(self) -> None:  # noqa: N802
        st = self.state
        if self.route() == "/v1/audio/transcriptions":
            return self._transcription()
        raw = self.rfile.read(int(self.headers.get("content-length", 0)))
        with st.lock:
            st.authorizations.append(self.headers.get("authorization", ""))
        if not st.parse and self.route() == "/v1/chat/completions":
            return self._unparsed(raw)
        body = json.loads(raw or b"{}")
        if self.route() != "/v1/chat/completions":
            return self._send(404, {"error": {"message": "not found"}})
        if st.api_key and self.headers.get("authorization") != f"Bearer {st.api_key}":
            return self._send(401, {"error": {"message": "bad key", "type": "invalid_request_error"}})
        if body.get("model") != st.model:
            return self._send(404, {"error": {"message": f"model {body.get('model')} does not exist"}})
        with st.lock:
            fault = None
            for i, (kind, times) in enumerate(st.faults):
                if times:
                    st.faults[i] = (kind, times - 1)
                    fault = kind
                    break
        if fault == "timeout":
            time.sleep(3)
        elif fault in ("429", "500"):
            return self._send(int(fault), {"error": {"message": f"injected {fault}"}})
        elif fault in BAD_REPLIES:
            return self._raw(*BAD_REPLIES[fault](st.model))
        problems, audio, text = check_request(body)
        if problems:
            st.errors.extend(problems)
            return self._send(400, {"error": {"message": "; ".join(problems)}})
        user = body["messages"][-1]["content"]
        if isinstance(user, list):
            st.parts.append([p.get("type") for p in user])
        if audio is None and st.context_limit_chars and len(text) > st.context_limit_chars:
            n_prompt, n_ctx = (
                len(text) // 2,
                st.context_limit_chars // 2,
            )  # as llama-server words it (2 chars/token)
            err = {
                "code": 400,
                "type": "exceed_context_size_error",
                "n_prompt_tokens": n_prompt,
                "n_ctx": n_ctx,
            }
            err["message"] = (
                f"request ({n_prompt} tokens) exceeds the available context size ({n_ctx} tokens), try increasing it"
            )
            with st.lock:
                st.text_requests.append({"text": text, "refused": True})
            return self._send(400, {"error": err})
        if st.delay:
            time.sleep(st.delay)
        finish = "stop"
        with st.lock:
            if audio is not None:
                if st.crash_after is not None and len(st.audio) >= st.crash_after:
                    return self._send(500, {"error": {"message": "server crashed"}})
                st.audio.append({**audio, "prompt": text})
                n = len(st.audio)
                answer = f"heard {audio['duration_s']:.2f} seconds"
                if st.length_for > 0:
                    st.length_for -= 1
                    finish = "length"
            else:
                system = next((m["content"] for m in body["messages"] if m["role"] == "system"), None)
                st.text_requests.append({"text": text, "system": system})
                n = len(st.text_requests)
                parts = text.count("[0")
                answer = st.replies.pop(0) if st.replies else f"summary of {parts} parts"
        self._send(200, completion(n, st.model, answer, finish))

    def _unparsed(self, raw: bytes) -> None:
        """A chat request answered after the delay without parsing it (its audio part found, not decoded)."""
        st = self.state
        time.sleep(st.delay)
        with st.lock:
            if b'"input_audio"' in raw:
                st.audio.append({"bytes": len(raw)})
                n, answer = len(st.audio), f"heard {len(raw)} bytes"
            else:
                st.text_requests.append({"bytes": len(raw)})
                n, answer = len(st.text_requests), "summary"
        self._send(200, completion(n, st.model, answer, "stop"))

    def _transcription(self) -> None:
        """multipart/form-data with ``file`` (a WAV) and ``model``, as the OpenAI API takes it."""
        from email.parser import BytesParser
        from email.policy import default

        raw = self.rfile.read(int(self.headers.get("content-length", 0)))
        with self.state.lock:
            self.state.authorizations.append(self.headers.get("authorization", ""))
        head = f"Content-Type: {self.headers.get('content-type')}\r\n\r\n".encode()
        fields = {
            p.get_param("name", header="content-disposition"): p
            for p in BytesParser(policy=default).parsebytes(head + raw).iter_parts()
        }
        wav = fields["file"].get_payload(decode=True)
        with wave.open(io.BytesIO(wav)) as w:
            seconds = w.getnframes() / w.getframerate()
        with self.state.lock:
            self.state.transcriptions.append(
                {"model": fields["model"].get_content().strip(), "duration_s": seconds}
            )
        self._send(200, {"text": f"transcribed {seconds:.2f} seconds"})


def _bad_completion(model: str, **change) -> tuple[int, str, bytes]:
    body = completion(1, model, "x", "stop")
    body.update(change)
    return 200, "application/json", json.dumps(body).encode()


def _int_content(model: str) -> tuple[int, str, bytes]:
    body = completion(1, model, "x", "stop")
    body["choices"][0]["message"]["content"] = 5
    return 200, "application/json", json.dumps(body).encode()


# What broken servers and proxies answer instead of a chat completion (fault kinds)
BAD_REPLIES = {
    "html": lambda m: (200, "text/html", b"<html><body><h1>Welcome to nginx!</h1></body></html>"),
    "garbage": lambda m: (200, "application/json", b'{"id": "x", "choices": [{"message": '),
    "no_message": lambda m: (500, "application/json", b'{"error": {}}'),
    "choices_string": lambda m: _bad_completion(m, choices="none"),
    "null_choices": lambda m: _bad_completion(m, choices=None),
    "int_content": _int_content,
    "empty": lambda m: _bad_completion(
        m, choices=[{"index": 0, "message": {"role": "assistant", "content": ""}, "finish_reason": "stop"}]
    ),
    "null": lambda m: _bad_completion(
        m, choices=[{"index": 0, "message": {"role": "assistant", "content": None}, "finish_reason": "stop"}]
    ),
}


def completion(n: int, model: str, answer: str, finish: str) -> dict:
    """The body of a chat completion, as OpenAI-compatible servers send it."""
    message = {"role": "assistant", "content": answer}
    return {
        "id": f"chatcmpl-{n}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        "usage": {"prompt_tokens": 100, "completion_tokens": 5, "total_tokens": 105},
    }


class OpenAIServer(LocalServer):
    path = "/v1"

    def __init__(self, **kwargs):
        super().__init__(Handler, OpenAIState(**kwargs))

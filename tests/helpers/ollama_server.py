"""A local server that speaks Ollama's native API (``/api/chat``, ``/api/show``, ``/api/tags``) as its docs
describe it, and checks each request: audio must come as base64 WAV in the user message's ``images``."""

from __future__ import annotations

import base64
import io
import json
import threading
import wave
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler

from tests.helpers.local_server import LocalServer


@dataclass
class OllamaState:
    model: str = "gemma4:e4b"
    context_length: int = 131072
    capabilities: list[str] = field(default_factory=lambda: ["completion", "vision", "audio"])
    faults: list[int] = field(default_factory=list)  # HTTP statuses to answer first, one each
    length_for: int = 0  # this many audio answers end with done_reason=length
    audio: list[dict] = field(default_factory=list)
    requests: list[dict] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def wav_info(b64: str) -> dict:
    with wave.open(io.BytesIO(base64.b64decode(b64, validate=True))) as w:
        return {
            "rate": w.getframerate(),
            "channels": w.getnchannels(),
            "duration_s": w.getnframes() / w.getframerate(),
        }


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    state: OllamaState

    def log_message(self, *args) -> None:
        pass

    def _send(self, status: int, obj: dict) -> None:
        raw = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def do_GET(self) -> None:  # noqa: N802
        if self.path == "/api/tags":
            details = {
                "format": "gguf",
                "family": "gemma4",
                "parameter_size": "8.0B",
                "quantization_level": "Q4_K_M",
            }
            return self._send(
                200, {"models": [{"name": self.state.model, "model": self.state.model, "details": details}]}
            )
        self._send(404, {"error": "404 page not found"})

    def do_POST(self) -> None:  # noqa: N802
        st = self.state
        body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))) or b"{}")
        with st.lock:
            fault = st.faults.pop(0) if st.faults else None
        if fault:
            return self._send(fault, {"error": f"injected {fault}"})
        if body.get("model") != st.model:
            return self._send(404, {"error": f"model '{body.get('model')}' not found"})
        if self.path == "/api/show":
            info = {"general.architecture": "gemma4", "gemma4.context_length": st.context_length}
            return self._send(
                200, {"model_info": info, "capabilities": st.capabilities, "details": {"family": "gemma4"}}
            )
        if self.path != "/api/chat":
            return self._send(404, {"error": "404 page not found"})
        return self._chat(body)

    def _chat(self, body: dict) -> None:
        st = self.state
        problems, audio = [], None
        if body.get("stream") is not False:
            problems.append("stream must be false")
        for m in body.get("messages", []):
            if not isinstance(m.get("content"), str):
                problems.append("content must be a string")
            for img in m.get("images") or []:
                audio = wav_info(img)
        if problems:
            st.errors.extend(problems)
            return self._send(400, {"error": "; ".join(problems)})
        with st.lock:
            st.requests.append(body)
            done_reason = "stop"
            if audio is not None:
                st.audio.append(audio)
                answer = f"heard {audio['duration_s']:.2f} seconds"
                if st.length_for > 0:
                    st.length_for, done_reason = st.length_for - 1, "length"
            else:
                answer = f"summary of {body['messages'][-1]['content'].count('[0')} parts"
        reply = {
            "model": st.model,
            "created_at": "2026-11-25T00:00:00Z",
            "done": True,
            "done_reason": done_reason,
        }
        reply["message"] = {"role": "assistant", "content": answer}
        reply.update(total_duration=1000, prompt_eval_count=120, eval_count=6)
        self._send(200, reply)


class OllamaServer(LocalServer):
    def __init__(self, **kwargs):
        super().__init__(Handler, OllamaState(**kwargs))

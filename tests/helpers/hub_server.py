"""A local HTTP server that speaks the Hub API paths the crawler uses, from fixtures, with faults.

Paths: ``/api/models`` (paged with a ``Link: <...>; rel="next"`` header, like the Hub),
``/api/models/{repo}`` (model info), ``/api/models/{repo}/tree/{rev}`` (file tree with sizes) and
``/{repo}/resolve/{rev}/config.json``. Faults are injected per request path: 429, 500, a timeout,
a connection dropped mid-body, or a body that is not JSON.
"""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlencode, urlsplit

from tests.helpers.hub_fixtures import HubFixtures, config_json, model_info, tree
from tests.helpers.local_server import LocalServer


@dataclass
class Fault:
    match: str  # a regex searched in "METHOD path?query"
    kind: str  # 429 | 500 | timeout | drop | bad-json
    times: int = 1  # how many matching requests get it (-1: all)
    delay: float = 2.0  # seconds, for timeout


@dataclass
class ServerState:
    fixtures: HubFixtures
    page_size: int = 50
    latency: float = 0.0
    faults: list[Fault] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    auth: list[str | None] = field(default_factory=list)
    extra_items: dict[str, list[object]] = field(default_factory=dict)  # injected raw items per pipeline tag
    next_base: str | None = None  # where Link: rel="next" points (None: this server, as the client named it)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def take_fault(self, line: str) -> Fault | None:
        with self.lock:
            for f in self.faults:
                if f.times != 0 and re.search(f.match, line):
                    if f.times > 0:
                        f.times -= 1
                    return f
        return None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    state: ServerState  # set on the subclass

    def log_message(self, *args) -> None:  # quiet
        pass

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def _json(self, data: object, headers: dict[str, str] | None = None) -> None:
        self._send(200, json.dumps(data).encode(), headers)

    def do_GET(self) -> None:  # noqa: N802
        st = self.state
        line = f"GET {self.path}"
        with st.lock:
            st.requests.append(self.path)
            st.auth.append(self.headers.get("authorization"))
        if st.latency:
            time.sleep(st.latency)
        fault = st.take_fault(line)
        if fault and fault.kind in ("429", "500"):
            self._send(int(fault.kind), json.dumps({"error": f"injected {fault.kind}"}).encode())
            return
        if fault and fault.kind == "timeout":
            time.sleep(fault.delay)
        url = urlsplit(self.path)
        q = parse_qs(url.query)
        body, headers = self._route(url.path, q)
        if body is None:
            self._send(404, b'{"error": "Repository not found"}', {"X-Error-Code": "RepoNotFound"})
            return
        raw = json.dumps(body).encode()
        if fault and fault.kind == "bad-json":
            raw = b"<html>upstream error</html>"
        if fault and fault.kind == "drop":
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw[: len(raw) // 2])
            self.wfile.flush()
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        self._send(200, raw, headers)

    def _route(self, path: str, q: dict[str, list[str]]) -> tuple[object | None, dict[str, str]]:
        st = self.state
        fx = st.fixtures
        if path == "/api/models":
            tag = q.get("pipeline_tag", [""])[0]
            items = list(fx.lists.get(tag, [])) + list(st.extra_items.get(tag, []))
            start = int(q.get("cursor", ["0"])[0])
            page = items[start : start + st.page_size]
            headers = {}
            if start + st.page_size < len(items):
                nq = {k: v for k, v in q.items() if k != "cursor"}
                nq["cursor"] = [str(start + st.page_size)]
                base = st.next_base or f"http://{self.headers.get('host')}"
                headers["Link"] = f'<{base}/api/models?{urlencode(nq, doseq=True)}>; rel="next"'
            return page, headers
        m = re.fullmatch(r"/api/models/([^/]+/[^/]+)/tree/([^/]+)", path)
        if m:
            item = fx.by_id.get(m.group(1))
            return (tree(item) if item else None), {}
        m = re.fullmatch(r"/api/models/([^/]+/[^/]+)", path)
        if m:
            return (fx.by_id.get(m.group(1)) or model_info(m.group(1))), {}
        m = re.fullmatch(r"/([^/]+/[^/]+)/resolve/([^/]+)/config.json", path)
        if m:
            item = fx.by_id.get(m.group(1))
            return (config_json(m.group(1), item) if item else None), {}
        return None, {}


class HubServer(LocalServer):
    """``with HubServer() as hub: ... hub.url ...``"""

    def __init__(self, fixtures: HubFixtures | None = None, **kwargs):
        super().__init__(Handler, ServerState(fixtures=fixtures or HubFixtures(), **kwargs))

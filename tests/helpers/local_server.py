"""A threaded HTTP server on 127.0.0.1 with a free port, whose handler class sees a shared ``state``."""

from __future__ import annotations

import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class QuietServer(ThreadingHTTPServer):
    """A client that hangs up (a batch killed on purpose) is not a traceback on stderr."""

    def handle_error(self, request, client_address) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class LocalServer:
    """``with Subclass(...) as srv: ... srv.url ... srv.state ...``"""

    path = ""  # appended to the base URL

    def __init__(self, handler: type[BaseHTTPRequestHandler], state: object):
        self.state = state
        bound = type(f"Bound{handler.__name__}", (handler,), {"state": state})
        self.httpd = QuietServer(("127.0.0.1", 0), bound)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}{self.path}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

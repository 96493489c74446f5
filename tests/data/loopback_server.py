"""A tiny HTTP file server on 127.0.0.1 for download tests.

Serves ``files`` ({name: bytes}) at ``/<name>``; honours ``Range: bytes=N-`` with 206 unless
``ranges`` is False; ``cut_after[name] = k`` sends the full Content-Length but only ``k`` bytes
and then drops the connection (an interrupted download). Every request is logged.
"""

from __future__ import annotations

import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class LoopbackServer:
    """Context manager: ``with LoopbackServer(files) as server: server.url``."""

    def __init__(self, files: dict[str, bytes] | None = None, ranges: bool = True) -> None:
        self.files: dict[str, bytes] = dict(files or {})
        self.ranges = ranges
        self.cut_after: dict[str, int] = {}
        self.log: list[tuple[str, str | None, int]] = []  # (path, Range header, status)
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # keep test output clean
                pass

            def do_GET(self) -> None:  # noqa: N802 (http.server API)
                name = urllib.parse.unquote(self.path.lstrip("/").split("?")[0])
                range_header = self.headers.get("Range")
                data = owner.files.get(name)
                if data is None:
                    owner.log.append((name, range_header, 404))
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                start = 0
                status = 200
                if owner.ranges and range_header and range_header.startswith("bytes="):
                    first = range_header[len("bytes=") :].split("-")[0]
                    start = int(first) if first.isdigit() else 0
                    if start >= len(data):
                        owner.log.append((name, range_header, 416))
                        self.send_response(416)
                        self.send_header("Content-Range", f"bytes */{len(data)}")
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                    status = 206
                body = data[start:]
                owner.log.append((name, range_header, status))
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Accept-Ranges", "bytes" if owner.ranges else "none")
                if status == 206:
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                self.end_headers()
                cut = owner.cut_after.pop(name, None)
                if cut is not None:
                    self.wfile.write(body[:cut])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(body)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/"

    def __enter__(self) -> "LoopbackServer":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

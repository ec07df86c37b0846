"""Fixtures for the data tests: a real HTTP server on 127.0.0.1 and an isolated cache."""

from __future__ import annotations

import functools
import http.server
import threading
from pathlib import Path

import pytest


class _Handler(http.server.SimpleHTTPRequestHandler):
    """Serves files; ``/truncated/<name>`` announces the full size but sends half and hangs up."""

    def do_GET(self):  # noqa: N802 (http.server's naming)
        if self.path.startswith("/truncated/"):
            body = (Path(self.directory) / self.path.removeprefix("/truncated/")).read_bytes()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        super().do_GET()

    def log_message(self, *args):  # keep the test output quiet
        pass


@pytest.fixture
def http_server(tmp_path):
    """``(base_url, folder)``: files written into ``folder`` are served at ``base_url/<name>``."""
    folder = tmp_path / "served"
    folder.mkdir()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Handler, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", folder
    server.shutdown()
    server.server_close()


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path, monkeypatch):
    """Every test's cache (paths.cache_dir, downloads, splits) lives in its own tmp folder."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("RECBENCH_CACHE_DIR", str(cache))
    return cache

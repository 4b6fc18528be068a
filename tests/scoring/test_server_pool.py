"""The vllm-server backend's request pool against real HTTP servers (the standard library's, on
127.0.0.1): retries follow each other, a dead endpoint's work goes to a live one. No vLLM needed:
these servers answer like a failing or a healthy ``/pooling`` endpoint."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from prm_viewer.errors import RecipeError
from prm_viewer.scoring.backends.vllm_server import Pool, ServerOptions


class _Endpoint:
    """Records the ``id`` of every body posted to it; answers 503 (``healthy=False``) or echoes."""

    def __init__(self, healthy: bool) -> None:
        self.seen: list[int] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.seen.append(body["id"])
                code, reply = (200, {"echo": body["id"]}) if healthy else (503, {"error": "down"})
                data = json.dumps(reply).encode()
                self.send_response(code)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def endpoints() -> Iterator[tuple[_Endpoint, _Endpoint]]:
    down, up = _Endpoint(healthy=False), _Endpoint(healthy=True)
    yield down, up
    for e in (down, up):
        e.server.shutdown()
        e.server.server_close()


def test_a_lone_failing_endpoint_retries_one_request_then_gives_up(endpoints):
    down, _ = endpoints
    pool = Pool(ServerOptions(endpoints=[down.url], concurrency=1, retries=3, backoff_s=0.01))
    with pytest.raises(RecipeError, match=r"a request failed 4 times .*HTTP 503"):
        pool.map("/pooling", [{"id": i} for i in range(20)])
    # the first request's four attempts come before any other request is tried: the run gives up
    # after retries + 1 failures, not after every queued request has failed several times
    assert down.seen == [0, 0, 0, 0]


def test_work_of_a_failing_endpoint_moves_to_a_live_one(endpoints):
    down, up = endpoints
    pool = Pool(ServerOptions(endpoints=[down.url, up.url], concurrency=1, retries=2, backoff_s=5.0))
    got = pool.map("/pooling", [{"id": i} for i in range(12)])
    assert got == [{"echo": i} for i in range(12)]
    assert sorted(up.seen) == list(range(12))  # every body answered once, by the live endpoint
    assert len(down.seen) == 1  # one failure, then the dead endpoint rests (5 s) while the live one works

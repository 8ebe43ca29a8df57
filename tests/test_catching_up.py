"""A server listens before it has folded the log it found: until its state is at the head,
/healthz answers 503 `catching_up` with how far it is, and reads and the websocket are
refused with 503, never answered from a half-built state."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from benchmarks import bare, workload
from tests.conftest import seconds, stop_process, tracker_env

EVENTS = 60_000


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=seconds(5)) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def test_health_says_catching_up_until_the_state_is_at_the_head(tmp_path: Path) -> None:
    import json

    db = tmp_path / "big.db"
    bare.build_log(str(db), workload.rows(EVENTS))
    port = _free_port()
    process = subprocess.Popen([sys.executable, "-m", "tracker", "serve", "--port", str(port), "--db", str(db)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=tracker_env())
    seen: list[tuple[int, dict]] = []
    reads: list[int] = []
    try:
        deadline = time.monotonic() + seconds(60)
        while time.monotonic() < deadline:
            try:
                status, body = _get(f"http://127.0.0.1:{port}/healthz")
            except OSError:
                time.sleep(0.01)
                continue
            seen.append((status, json.loads(body)))
            if status == 503:
                reads.append(_get(f"http://127.0.0.1:{port}/api/state/territory")[0])
            if status == 200:
                break
    finally:
        stop_process(process)
    catching = [body for status, body in seen if status == 503]
    assert catching, f"the server answered nothing before it was caught up: {seen[:3]}"
    assert all(b["status"] == "catching_up" and 0 <= b["position"] <= b["head"] == EVENTS for b in catching)
    assert 503 in reads and set(reads) <= {200, 503}, reads  # a 200: the catch-up ended between the two requests
    assert seen[-1] == (200, {"status": "ok", "position": EVENTS})

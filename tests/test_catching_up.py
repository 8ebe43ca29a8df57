"""A server listens before it has folded the log it found: until its state is at the head,
/healthz answers 503 `catching_up` with how far it is, and reads and the websocket are
refused with 503, never answered from a half-built state."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks import bare, workload
from tests.conftest import free_port, http, seconds, stop_process, tracker_env

EVENTS = 60_000


def test_health_says_catching_up_until_the_state_is_at_the_head(tmp_path: Path) -> None:
    db = tmp_path / "big.db"
    bare.build_log(str(db), workload.rows(EVENTS))
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "tracker", "serve", "--port", str(port), "--db", str(db)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=tracker_env())
    seen: list[tuple[int, Any]] = []
    reads: list[int] = []
    try:
        deadline = time.monotonic() + seconds(60)
        while time.monotonic() < deadline:
            try:
                status, body = http(port, "/healthz")
            except OSError:
                time.sleep(0.01)
                continue
            seen.append((status, body))
            if status == 503:
                reads.append(http(port, "/api/state/territory")[0])
            if status == 200:
                break
    finally:
        stop_process(process)
    catching = [body for status, body in seen if status == 503]
    assert catching, f"the server answered nothing before it was caught up: {seen[:3]}"
    assert all(b["status"] == "catching_up" and 0 <= b["position"] <= b["head"] == EVENTS for b in catching)
    # the log read first, then the checkpoints built (the log all read by then), never back
    stages = [b["stage"] for b in catching]
    assert stages == sorted(stages, key=["image", "log", "checkpoints"].index) and "checkpoints" in stages, stages
    assert all(b["position"] == EVENTS for b in catching if b["stage"] == "checkpoints")
    assert 503 in reads and set(reads) <= {200, 503}, reads  # a 200: the catch-up ended between the two requests
    assert seen[-1] == (200, {"status": "ok", "position": EVENTS})

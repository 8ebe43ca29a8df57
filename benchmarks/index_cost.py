"""What the history index costs an append, at the limit: bare `executemany` of the same rows
into tracker's schema without `events_by_history`, with it (SQLite extracting the history
key, `occurred_from` or else `occurred_on`, from the JSON), and with the key bound by the
caller instead. Side by side, in turn.

`python -m benchmarks.index_cost [ROWS] [RUNS]` (default 300,000 rows, 3 runs); prints medians.
Not a registered figure: it informs a design choice (README, Performance).
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time

import orjson

from tracker.store.sqlite import _HISTORY_KEY, SCHEMA, _statements

from . import bare, workload

INSERT = "INSERT INTO events (position, id, recorded_at, type, data) VALUES (?, ?, ?, ?, ?)"
SCHEMAS = {
    "without the history index": ([s for s in _statements(SCHEMA.replace(f",\n    {_HISTORY_KEY}", ""))
                                   if "events_by_history" not in s], INSERT),
    "with it (SQLite extracts the key)": (_statements(SCHEMA), INSERT),
    "with it (the caller binds the key)": (_statements(SCHEMA.replace(_HISTORY_KEY, "history_key TEXT")),
                                           INSERT.replace("data) VALUES (?, ?, ?, ?, ?)",
                                                          "data, history_key) VALUES (?, ?, ?, ?, ?, ?)")),
}


def _key(event: dict) -> str | None:
    start = event.get("occurred_from")
    return start if start is not None else event.get("occurred_on")


def rate(path: str, statements: list[str], insert: str, batches: list[list[tuple]]) -> float:
    conn = bare.connect(path)
    for statement in statements:
        conn.execute(statement)
    started = time.perf_counter()
    for batch in batches:
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(insert, batch)
        conn.execute("COMMIT")
    seconds = time.perf_counter() - started
    conn.close()
    return sum(map(len, batches)) / seconds


def main(rows: int = 300_000, runs: int = 3) -> None:
    plain = bare.insert_rows(workload.rows(rows), 1000)
    bound = [[(*row, _key(orjson.loads(row[4]))) for row in batch] for batch in plain]
    rates: dict[str, list[float]] = {name: [] for name in SCHEMAS}
    with tempfile.TemporaryDirectory() as folder:
        for run in range(runs):
            names = list(SCHEMAS) if run % 2 == 0 else list(reversed(SCHEMAS))
            for n, name in enumerate(names):
                statements, insert = SCHEMAS[name]
                path = os.path.join(folder, f"{run}-{n}.db")
                rates[name].append(rate(path, statements, insert, bound if "binds" in name else plain))
    first = statistics.median(rates[next(iter(SCHEMAS))])
    for name, values in rates.items():
        median = statistics.median(values)
        print(f"{name:42} {median:10,.0f} rows/s  {median / first:.2f} x")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:3]))

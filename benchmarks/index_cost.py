"""What the history index costs an append, at the limit: bare `executemany` of the same rows
into tracker's schema without `events_by_date`, with it (SQLite extracting `occurred_on`
from the JSON), and with the date bound by the caller instead. Side by side, in turn.

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

from tracker.store.sqlite import _OCCURRED_ON, SCHEMA, _statements

from . import bare, workload

INSERT = "INSERT INTO events (position, id, recorded_at, type, data) VALUES (?, ?, ?, ?, ?)"
SCHEMAS = {
    "without the history index": ([s for s in _statements(SCHEMA.replace(f",\n    {_OCCURRED_ON}", ""))
                                   if "events_by_date" not in s], INSERT),
    "with it (SQLite extracts occurred_on)": (_statements(SCHEMA), INSERT),
    "with it (the caller binds occurred_on)": (_statements(SCHEMA.replace(_OCCURRED_ON, "occurred_on TEXT")),
                                               INSERT.replace("data) VALUES (?, ?, ?, ?, ?)",
                                                              "data, occurred_on) VALUES (?, ?, ?, ?, ?, ?)")),
}


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
    bound = [[(*row, orjson.loads(row[4]).get("occurred_on")) for row in batch] for batch in plain]
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

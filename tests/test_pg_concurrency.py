"""No catch-up reader may skip an event that commits late: proven with real processes.

Several writer processes make many small appends at once (batches of 1 to 3 events, a
few hundred each, so their commits interleave), some through `python -m tracker append`,
while a reader in this process tails the log with read(after) and wait(). At the end
every acknowledged id is stored exactly once, the positions are 1..N without a gap, and
the reader saw every position exactly once and in order.

The same run against `BrokenStore` (positions from a bare sequence, no serialisation, a
small random delay between taking a position and committing) shows what the design
rules out: the reader passes positions whose transactions commit after larger ones, and
never sees them. That test asserts the miss, so it fails if the broken store stops
being broken (and the proof with it).

Needs TRACKER_TEST_PG_DSN, as tests/test_store_postgres.py.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import random
import subprocess
import sys
import textwrap
import threading
from collections.abc import Sequence
from pathlib import Path

import asyncpg

from tests.conftest import ROOT, Databases, seconds
from tracker.store import NewEvent, open_store
from tracker.store.postgres import CHANNEL, PostgresStore


class BrokenStore(PostgresStore):
    """Test only, and wrong on purpose: what Marten shipped before 9.16.1. Each append
    is its own transaction, concurrent with the others; positions come from a sequence,
    so a transaction can take position 6, another take 7 and commit first."""

    async def append(self, events: Sequence[NewEvent], expected_position: int | None = None,
                     recorded_by: str | None = None) -> list[int]:
        self._check_open()

        async def run(conn: asyncpg.Connection) -> list[int]:
            async with conn.transaction():
                positions = [await conn.fetchval("SELECT nextval('broken_positions')") for _ in events]
                await conn.executemany(
                    "INSERT INTO tracker_events (position, id, recorded_at, type, data) "
                    "VALUES ($1, $2, clock_timestamp(), $3, $4)",
                    [(p, e.id, e.type, e.data) for p, e in zip(positions, events, strict=True)])
                await asyncio.sleep(random.uniform(0, 0.01))  # some work between numbering and commit
                await conn.execute(f"SELECT pg_notify('{CHANNEL}', '')")
            return positions

        return await self._with_connection(run, "append failed", retry=False)


WRITER = textwrap.dedent("""
    import asyncio, random, sys, uuid
    from tracker.store import NewEvent, open_store

    async def main(dsn, count, prefix, broken):
        if broken:
            from tests.test_pg_concurrency import BrokenStore
            store = await BrokenStore.open(dsn)
        else:
            store = await open_store(dsn)
        rng = random.Random(prefix)
        print("ready", flush=True)
        sys.stdin.readline()  # every writer starts at once
        for n in range(count):
            if n == count // 2:
                sys.stdin.readline()  # the second half once told (after the CLI's first append, if any)
            batch = [NewEvent(str(uuid.uuid5(uuid.NAMESPACE_OID, f"{prefix}-{n}-{k}")), "Thing",
                              '{"writer": "%s", "n": %d, "k": %d}' % (prefix, n, k))
                     for k in range(rng.randint(1, 3))]
            positions = await store.append(batch)
            for event, position in zip(batch, positions):
                print(event.id, position, flush=True)
        await store.close()

    asyncio.run(main(sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4] == "broken"))
""")


def _writer(dsn: str, count: int, prefix: str, broken: bool) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-c", WRITER, dsn, str(count), prefix, "broken" if broken else "ok"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT)
    assert proc.stdout.readline().strip() == "ready"
    return proc


def _cli_writer(dsn: str, folder: Path, runs: int, acked: dict[str, int], failures: list[str]) -> None:
    """One writer through the CLI: `python -m tracker append --json`, batches of 1 to 3."""
    rng = random.Random("cli")
    for n in range(runs):
        lines = []
        for k in range(rng.randint(1, 3)):
            name = f"cli_actor_{n}_{k}"
            lines.append(json.dumps({"type": "ActorRegistered", "actor": name, "name": name.replace("_", " "),
                                     "kind": "militia", "sources": [{"publisher": "Test"}]}))
        path = folder / f"cli{n}.jsonl"
        path.write_text("\n".join(lines) + "\n")
        done = subprocess.run([sys.executable, "-m", "tracker", "append", "--json", "--db", dsn, str(path)],
                              capture_output=True, text=True, timeout=seconds(60), cwd=folder)
        if done.returncode != 0:
            failures.append(done.stderr)
            return
        result = json.loads(done.stdout)
        acked.update(zip(result["ids"], result["positions"], strict=True))


async def _run(dsn: str, tmp_path: Path, *, writers: int, count: int, cli_runs: int, broken: bool):
    """Start the writers together, tail the log until they are done; return what the
    writers were told, what is stored, and the positions the tailing reader saw.

    The writers do half their appends, then wait for the CLI writer's first append before the
    other half: a `python -m tracker append` process takes longer to start than a writer on a
    loaded machine takes to finish, so without it the CLI's appends could all come after theirs."""
    procs = [_writer(dsn, count, f"w{i}", broken) for i in range(writers)]
    acked: dict[str, int] = {}
    cli_acked: dict[str, int] = {}
    failures: list[str] = []
    cli = threading.Thread(target=_cli_writer, args=(dsn, tmp_path, cli_runs, cli_acked, failures))
    seen: list[int] = []
    async with await open_store(dsn) as reader:
        for proc in procs:
            proc.stdin.write("go\n")
            proc.stdin.flush()
        cli.start()
        loop = asyncio.get_running_loop()
        # stdout read by threads (communicate() would close stdin, and the second "go" goes there)
        outputs = [loop.run_in_executor(None, proc.stdout.read) for proc in procs]
        done = asyncio.gather(*outputs, loop.run_in_executor(None, cli.join))
        released = False
        after = 0
        while True:
            if not released and (cli_acked or failures or not cli.is_alive() or cli_runs == 0):
                for proc in procs:
                    proc.stdin.write("go\n")
                    proc.stdin.flush()
                released = True
            rows = await reader.read(after)
            if rows:
                seen += [r.position for r in rows]
                after = rows[-1].position
                continue
            if done.done() and after >= await reader.head():
                break
            await reader.wait(after, timeout=seconds(0.2))
        await done
        for proc, output in zip(procs, outputs, strict=True):
            proc.stdin.close()
            assert proc.wait(seconds(30)) == 0
            for line in output.result().splitlines():
                ident, position = line.split()
                acked[ident] = int(position)
        stored = await reader.read()
    assert not failures, failures
    return acked, cli_acked, stored, seen


async def test_concurrent_writers_and_a_tailing_reader_miss_nothing(tmp_path):
    databases = Databases()
    try:
        dsn = await databases.create()
        async with await open_store(dsn):
            pass  # the schema, as a first `tracker serve` would make it
        acked, cli_acked, stored, seen = await _run(dsn, tmp_path, writers=3, count=300, cli_runs=12, broken=False)
    finally:
        await databases.drop_all()
    assert len(cli_acked) >= 12 and len(acked) >= 900
    everything = {**acked, **cli_acked}
    positions = [r.position for r in stored]
    assert positions == list(range(1, len(stored) + 1)), "positions 1..N without a gap"
    assert len({r.id for r in stored}) == len(stored) == len(everything), "every acknowledged id stored exactly once"
    assert {r.id: r.position for r in stored} == everything, "each at the position its writer was told"
    assert seen == positions, "the tailing reader saw every position exactly once, in order"
    # the writers' commits did interleave: no writer's events form one block
    owners = [json.loads(r.data).get("writer", "cli") for r in stored]
    switches = sum(a != b for a, b in itertools.pairwise(owners))
    assert switches > 100
    cli_at = [p for p, owner in zip(positions, owners, strict=True) if owner == "cli"]
    assert min(cli_at) < max(p for p, owner in zip(positions, owners, strict=True) if owner != "cli"), \
        "the CLI's appends ran among the other writers'"


async def test_a_sequence_without_serialisation_makes_the_reader_skip(tmp_path):
    databases = Databases()
    try:
        dsn = await databases.create()
        async with await open_store(dsn) as store:
            await store._with_connection(lambda conn: conn.execute("CREATE SEQUENCE broken_positions"))
        acked, _, stored, seen = await _run(dsn, tmp_path, writers=4, count=150, cli_runs=0, broken=True)
    finally:
        await databases.drop_all()
    positions = [r.position for r in stored]
    assert positions == list(range(1, len(stored) + 1))  # the log itself ends up whole...
    assert {r.id: r.position for r in stored} == acked
    missed = sorted(set(positions) - set(seen))
    assert seen == sorted(seen)
    assert missed, "the broken store's reader should have skipped a late commit (the proof depends on it)"
    # ...but the reader passed those positions before they committed, and never saw them
    print(f"broken store: the tailing reader missed {len(missed)} of {len(positions)} events, e.g. {missed[:5]}")

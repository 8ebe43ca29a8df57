"""The functional core: what a report means and what the log says, with no I/O.

Inside: the event schema and its checks (`events`, `batch`, `reports`: text in, events or
issues out), dates and time windows (`dates`), the error tree (`errors`), records and ids,
the catalog of actors and places, the projections and their folds (`projections/`, `fold`),
the bitemporal timeline, and the rules of the wire (`protocol`: requests parsed, replies
built, states diffed) and of the terminal (`summary`, `tables`).

Outside, in the shell around it: whatever reads or writes files, stores, sockets or
processes, or waits: `tracker.store` (SQLite, PostgreSQL), `tracker.service` (a store and a
timeline kept in step), `tracker.server` (websockets and HTTP), `tracker.cli`,
`tracker.watch`, `tracker.transfer`, `tracker.seeds`, `tracker.logs`.

`tests/test_purity.py` walks every module here and everything it imports inside the
package, and fails on any import of I/O, concurrency or the shell, or a call of `open()`.
"""

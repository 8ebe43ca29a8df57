"""Wake-up sockets: an append to a SQLite log by any process wakes the servers waiting on it at once.

PostgreSQL has LISTEN/NOTIFY; SQLite has nothing of the kind, so a server learnt of another
process's append only when it next polled the file (every 0.1 s: ~50 ms on average, ~100 ms
at worst). Here each store that waits (`SQLiteStore.wait`, a server's hub) binds one Unix
datagram socket in a folder beside the database, `<db>.wake/<pid>-<random>.sock`, and each
store that commits an append sends one byte to every socket in that folder, from its writer
thread as soon as COMMIT returns (not after a hop back to its event loop). The
waiter's event loop watches its socket (`loop.add_reader`): a byte arrives, the waiter reads
the head at once.

Why sockets rather than a file-system notification (inotify on the WAL file):
- the wake-up is sent after COMMIT has returned, so the waiter that reads the head then sees
  the new events. SQLite writes a commit's WAL frames before the commit is visible (the
  wal-index in the shared memory file, which inotify does not see, is updated last), so an
  inotify event can arrive too early, and the waiter would find nothing and fall back to polling;
- inotify is Linux-only, needs a library, and misses changes made through other mounts (a bind
  mount in a container, a network file system); the sockets need only the standard library and
  a local folder, on Linux and macOS;
- one byte per listening server and a directory listing per commit, a few microseconds.

Best effort, both ways. Sending never blocks (a full socket buffer already holds wake-ups
enough) and never raises: an append never fails or slows because of a wake-up. A socket
that refuses a byte has no one bound to it any more (a server that died without closing):
the sender removes it. A waiter that cannot bind (a read-only folder, a path too long, a
platform without Unix sockets) keeps polling at the store's poll interval; one that is
listening still polls, less often, for appenders that cannot reach it (another user's
process without write permission on the socket, an older tracker).
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import secrets
import socket
import stat
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)

SUFFIX = ".wake"  # the folder beside the database: <db>.wake/
_SOCKET = ".sock"  # only names ending so are wake-up sockets: nothing else in the folder is touched
_MAX_ADDRESS = 100  # bytes: sun_path holds 108 on Linux, 104 on macOS, with its NUL
_PROC_FD = Path("/proc/self/fd")  # Linux: a longer path is reached through a descriptor of its folder
_TOLD: set[Path] = set()  # folders whose wake-up socket could not be bound, said in the log


def folder_of(db_path: str) -> Path | None:
    """Where the wake-up sockets of the database at `db_path` live; None for a database that no
    other process can open (in memory) or one named by a URI."""
    if db_path == ":memory:" or db_path.startswith("file:") or not db_path:
        return None
    return Path(os.path.abspath(db_path) + SUFFIX)


def fits(folder: Path) -> bool:
    """Are the paths of the sockets in `folder` short enough to be socket addresses?"""
    return len(os.fsencode(folder)) + 40 <= _MAX_ADDRESS


class _Address:
    """How to name a file of `folder` in a socket call: its path, or, when that is too long
    for sun_path, /proc/self/fd/N/name through a descriptor of the folder (Linux)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._fd: int | None = None
        if not fits(folder):
            if not _PROC_FD.is_dir():
                raise OSError(errno.ENAMETOOLONG, f"{folder} is too long for a Unix socket address")
            self._fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)

    def of(self, name: str) -> str:
        return os.path.join(self.folder, name) if self._fd is None else f"{_PROC_FD}/{self._fd}/{name}"

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class Listener:
    """One waiting store's wake-up socket, watched by its event loop; `on_wake` runs on the
    loop for each batch of wake-ups read. `open()` returns None (and says why in the log)
    when the wake-up path is unavailable."""

    def __init__(self, folder: Path, name: str, sock: socket.socket, loop: asyncio.AbstractEventLoop,
                 on_wake: Callable[[], None]) -> None:
        self.folder = folder
        self.name = name  # the socket's file name in `folder`
        self.path = folder / name
        self.received = 0  # wake-ups read: bytes sent by appenders (this process's own are skipped)
        self._sock = sock
        self._loop = loop
        self._on_wake = on_wake
        loop.add_reader(sock.fileno(), self._readable)

    @classmethod
    def open(cls, folder: Path, on_wake: Callable[[], None]) -> Listener | None:
        if not hasattr(socket, "AF_UNIX"):
            log.info("no wake-up socket for %s: this platform has no Unix sockets; polling", folder)
            return None
        loop = asyncio.get_running_loop()
        name = f"{os.getpid()}-{secrets.token_hex(4)}{_SOCKET}"
        sock = None
        try:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            sock.setblocking(False)
            _bind(sock, folder, name)
            return cls(folder, name, sock, loop, on_wake)
        except (OSError, NotImplementedError, RuntimeError) as e:  # NotImplementedError: a loop without add_reader
            if sock is not None:
                sock.close()
                _unlink(folder / name)
            if folder not in _TOLD:  # once: a waiter tries again every few seconds
                _TOLD.add(folder)
                log.info("no wake-up socket in %s (%s): appends by other processes are seen by polling", folder, e)
            return None

    def _readable(self) -> None:
        got = 0
        try:
            while True:
                got += len(self._sock.recv(4096))
        except OSError:  # BlockingIOError: drained
            pass
        if got:
            self.received += got
            self._on_wake()

    def alive(self) -> bool:
        """Is the socket still reachable by appenders (its file not removed from under it)?"""
        try:
            return stat.S_ISSOCK(os.lstat(self.path).st_mode)
        except OSError:
            return False

    def close(self) -> None:
        try:
            self._loop.remove_reader(self._sock.fileno())
        except (RuntimeError, ValueError, OSError):  # the loop is closed already
            pass
        self._sock.close()
        if self.alive():
            _unlink(self.path)
        try:
            self.folder.rmdir()  # the last one out leaves no folder behind (not empty: others listen)
        except OSError:
            pass


class Notifier:
    """An appending store's sender: `notify()` after each commit wakes every listener but
    `skip` (the store's own, whose waiters its append already woke)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.sent = 0  # wake-ups delivered
        self.removed = 0  # stale sockets removed
        self._sock: socket.socket | None = None
        self._fits = fits(folder)  # then a directory entry's path is its address

    def notify(self, skip: str | None = None) -> int:
        """Send one byte to each listener; never blocks, never raises. Returns how many got it."""
        try:
            woken = self._notify(skip)
        except Exception as e:  # never let a wake-up fail an append
            log.debug("wake-up of %s failed: %s", self.folder, e)
            return 0
        self.sent += woken
        return woken

    def _notify(self, skip: str | None) -> int:
        try:
            entries = [(e.name, e.path) for e in os.scandir(self.folder) if e.name.endswith(_SOCKET) and e.name != skip]
        except OSError:  # no folder: nobody listens (or it cannot be read: they poll)
            return 0
        if not entries:
            return 0
        woken = 0
        address = None
        try:
            if self._sock is None:
                self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
                self._sock.setblocking(False)
            if not self._fits:
                address = _Address(self.folder)
            for name, path in entries:
                try:
                    self._sock.sendto(b"w", path if address is None else address.of(name))
                    woken += 1
                except BlockingIOError:  # its buffer is full of wake-ups it has not read yet: it is awake
                    woken += 1
                except ConnectionRefusedError:  # nobody bound to it: its server is gone
                    if _is_socket(Path(path)) and _unlink(Path(path)):
                        self.removed += 1
                except OSError:  # removed meanwhile, not ours to write to, ...: best effort
                    pass
        finally:
            if address is not None:
                address.close()
        return woken

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None


def _bind(sock: socket.socket, folder: Path, name: str) -> None:
    """Bind `sock` as `folder/name`, making the folder if need be. Whoever may write the log
    may wake its servers: the socket takes the database file's permissions, and a folder made
    here the same, searchable where readable. A folder removed between its making and the bind
    (by the last listener closing) is made again."""
    database = Path(str(folder)[:-len(SUFFIX)])
    try:
        mode: int | None = stat.S_IMODE(database.stat().st_mode)
    except OSError:
        mode = None
    for attempt in (1, 2):
        try:
            folder.mkdir()
            if mode is not None:
                os.chmod(folder, mode | (mode & 0o444) >> 2)
        except FileExistsError:
            pass
        address = None
        try:
            address = _Address(folder)
            sock.bind(address.of(name))
            break
        except FileNotFoundError:
            if attempt == 2:
                raise
        finally:
            if address is not None:
                address.close()
    if mode is not None:
        os.chmod(folder / name, mode)


def _is_socket(path: Path) -> bool:
    try:
        return stat.S_ISSOCK(os.lstat(path).st_mode)
    except OSError:
        return False


def _unlink(path: Path) -> bool:
    try:
        path.unlink()
        return True
    except OSError:
        return False

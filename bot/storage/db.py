"""Opening databases: pragmas, the SQL functions the schema's triggers call, migrations, and `Database`.

Every connection goes through here, because the FTS triggers call `fts_text()`, a Python function that
must be registered on each connection.

`Database` is the bot's one handle on its SQLite file (sqlite-utils' `atomic()` is the model):

- **one writer**: a sqlite3 connection owned by a dedicated thread, and an `asyncio.Lock`. Every write,
  whether a few statements from a handler (`transaction()`) or a bulk function from the push or the
  refresh job (`write(fn)`), runs inside BEGIN IMMEDIATE ... COMMIT while holding the lock, so no
  writer's statement can land inside another writer's transaction, whatever python-telegram-bot's
  `concurrent_updates` or aiosqlite's internals do.
- **readers**: an aiosqlite connection for the handlers' queries and sqlite3 connections on their own
  threads for consistent multi-statement snapshots (`read(fn)`). In WAL mode they never wait for the
  writer, so a long batch write does not stall a handler's read.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite

from bot.storage.fts import index_text
from bot.storage.index import ensure_index
from bot.storage.migrations import migrate

BUSY_TIMEOUT_MS = 5000
BEGIN_RETRY = 0.001  # seconds between the writer's tries to begin while another process holds the write lock
# Snapshot readers: two big reads overlap (the push planner reads its due chats while the topic lists
# load); with one thread they queued behind each other.
SNAPSHOT_THREADS = 2

T = TypeVar("T")
Params = Sequence[Any]


def _prepare(conn: sqlite3.Connection) -> None:
    conn.create_function("fts_text", 1, index_text, deterministic=True)
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA synchronous = NORMAL")


def _applied(conn: sqlite3.Connection) -> int:
    """How many migrations the database records (0 before the first)."""
    try:
        return int(conn.execute("SELECT count(*) FROM migrations").fetchone()[0])
    except sqlite3.OperationalError:  # no such table: a new database
        return 0


def connect(path: Path | str) -> sqlite3.Connection:
    """A migrated synchronous connection in autocommit mode (callers open explicit transactions), its
    search index current with the running code's folding (bot.storage.index)."""
    if str(path) != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
    # Takes effect only on a new file: pages a bulk ingest's index merges free can then be given back
    # (CatalogueWriter runs PRAGMA incremental_vacuum); an existing database keeps its mode.
    conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
    if str(path) != ":memory:":
        conn.execute("PRAGMA journal_mode = WAL")
    _prepare(conn)
    before = _applied(conn)
    migrate(conn)
    # Before anything reads or writes papers: an index folded by other code is rebuilt (with progress).
    rebuilt = ensure_index(conn)
    if str(path) != ":memory:" and (rebuilt or _applied(conn) != before):
        # A migration or a rebuild may rewrite a whole table (16: every paper's row, 1.2 GB of WAL at 1M
        # papers); the WAL file would keep its largest size until truncated.
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return conn


async def _open_reader(path: Path) -> aiosqlite.Connection:
    """An aiosqlite connection on a file `connect()` has already migrated (Database.open does)."""
    conn = await aiosqlite.connect(str(path), isolation_level=None)
    await conn.create_function("fts_text", 1, index_text, deterministic=True)
    await conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    await conn.execute("PRAGMA foreign_keys = ON")
    await conn.execute("PRAGMA synchronous = NORMAL")
    conn.row_factory = aiosqlite.Row
    return conn


class _Worker:
    """A sqlite3 connection used only from its own single thread."""

    def __init__(self, path: Path, name: str) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
        self._path = path
        self._conn: sqlite3.Connection | None = None

    def _open(self) -> None:
        conn = sqlite3.connect(str(self._path), isolation_level=None, check_same_thread=False)
        _prepare(conn)
        conn.row_factory = sqlite3.Row
        self._conn = conn

    async def start(self) -> None:
        await self.call(lambda _: None)

    async def call(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run `fn(connection)` on the worker's thread."""

        def run() -> T:
            if self._conn is None:
                self._open()
            assert self._conn is not None
            return fn(self._conn)

        return await asyncio.get_running_loop().run_in_executor(self._pool, run)

    async def close(self) -> None:
        def shut(conn: sqlite3.Connection) -> None:
            conn.close()

        if self._conn is not None:
            await self.call(shut)
            self._conn = None
        self._pool.shutdown(wait=True)


def _begin_immediate(conn: sqlite3.Connection) -> None:
    """BEGIN IMMEDIATE for the bot's writer, retried every BEGIN_RETRY while another process (the refresh
    worker, bot.services.refresh_worker) holds SQLite's write lock. SQLite's own busy handler
    (sqliteDefaultBusyCallback in its main.c) sleeps 1, 2, 5, 10, 15, 20, 25 ... 100 ms between tries,
    so a handler's write often slept through several of the worker's few-millisecond transactions;
    retried at once, it waits for one at most. (The writer's connection has no busy timeout: once
    BEGIN IMMEDIATE holds the lock, WAL mode makes none of its statements wait.)"""
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            conn.execute("BEGIN IMMEDIATE")
            return
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode != sqlite3.SQLITE_BUSY or time.monotonic() > deadline:
                raise
        time.sleep(BEGIN_RETRY)


def _in_transaction(conn: sqlite3.Connection, begin: str, fn: Callable[[sqlite3.Connection], T]) -> T:
    if begin == "BEGIN IMMEDIATE":
        _begin_immediate(conn)
    else:
        conn.execute(begin)
    try:
        result = fn(conn)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return result


class Transaction:
    """Statements inside one open write transaction (see `Database.transaction`)."""

    def __init__(self, worker: _Worker) -> None:
        self._worker = worker

    async def execute(self, sql: str, params: Params = ()) -> int:
        """Run one statement; the number of rows it changed."""
        return await self._worker.call(lambda c: c.execute(sql, params).rowcount)

    async def executemany(self, sql: str, rows: Iterable[Params]) -> int:
        """Run one statement for each parameter row; rows changed in all."""
        batch = list(rows)
        return await self._worker.call(lambda c: c.executemany(sql, batch).rowcount)

    async def fetchall(self, sql: str, params: Params = ()) -> list[sqlite3.Row]:
        """Rows of a query, seeing this transaction's own writes."""
        return await self._worker.call(lambda c: c.execute(sql, params).fetchall())

    async def fetchone(self, sql: str, params: Params = ()) -> sqlite3.Row | None:
        """The first row of a query, or None."""
        return await self._worker.call(lambda c: c.execute(sql, params).fetchone())

    async def call(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run a synchronous function on the writer's connection, inside this transaction."""
        return await self._worker.call(fn)


class Database:
    """The bot's SQLite file: one serialized writer, readers that never wait for it. Open with `open()`."""

    def __init__(self, path: Path, writer: _Worker, snapshots: list[_Worker], reader: aiosqlite.Connection) -> None:
        self.path = path
        self._writer = writer
        self._snapshots = snapshots
        self._idle: asyncio.Queue[_Worker] = asyncio.Queue()
        for worker in snapshots:
            self._idle.put_nowait(worker)
        self._reader = reader
        self._lock = asyncio.Lock()

    @classmethod
    async def open(cls, path: Path | str) -> Database:
        """Migrate the file (creating it), then open the writer and reader connections."""
        file = Path(path)
        if str(path) == ":memory:":
            raise ValueError("Database needs a file: its connections must share one database")
        await asyncio.to_thread(lambda: connect(file).close())
        writer = _Worker(file, "db-writer")
        snapshots = [_Worker(file, f"db-snapshot-{i}") for i in range(SNAPSHOT_THREADS)]
        for worker in (writer, *snapshots):
            await worker.start()
        await writer.call(lambda c: c.execute("PRAGMA busy_timeout = 0"))  # it retries itself: _begin_immediate
        reader = await _open_reader(file)
        return cls(file, writer, snapshots, reader)

    async def close(self) -> None:
        """Close every connection (waits for a running write to finish)."""
        async with self._lock:
            await self._writer.close()
        for worker in self._snapshots:
            await worker.close()
        await self._reader.close()

    # -- writes -------------------------------------------------------------------------------------

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Transaction]:
        """BEGIN IMMEDIATE ... COMMIT around the block (ROLLBACK on any exception), writers one at a time."""
        async with self._lock:
            await self._writer.call(_begin_immediate)
            try:
                yield Transaction(self._writer)
            except BaseException:
                await self._writer.call(lambda c: c.execute("ROLLBACK"))
                raise
            await self._writer.call(lambda c: c.execute("COMMIT"))

    async def write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run a synchronous function in one write transaction on the writer's thread (bulk writes)."""
        async with self._lock:
            return await self._writer.call(partial(_in_transaction, begin="BEGIN IMMEDIATE", fn=fn))

    async def execute(self, sql: str, params: Params = ()) -> int:
        """One write statement in its own transaction; the number of rows it changed."""
        async with self.transaction() as tx:
            return await tx.execute(sql, params)

    # -- reads --------------------------------------------------------------------------------------

    async def fetchall(self, sql: str, params: Params = ()) -> list[aiosqlite.Row]:
        """Rows of a read-only query on the reader connection (committed data only)."""
        return list(await self._reader.execute_fetchall(sql, params))

    async def fetchone(self, sql: str, params: Params = ()) -> aiosqlite.Row | None:
        """The first row of a read-only query, or None.

        Executed and read to the end in one call on the reader's thread: a cursor left open between
        two awaits keeps a read transaction open on the shared connection, and every other coroutine's
        query would read that old snapshot, missing writes committed meanwhile (a handler not seeing
        its own write; tests/push/test_concurrency.py)."""
        rows = await self._reader.execute_fetchall(sql, params)
        return next(iter(rows), None)

    async def read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run a synchronous function in one read transaction: a consistent snapshot for big reads.
        Up to SNAPSHOT_THREADS of them run at once, each on its own connection and thread."""
        worker = await self._idle.get()
        try:
            return await worker.call(partial(_in_transaction, begin="BEGIN", fn=fn))
        finally:
            self._idle.put_nowait(worker)

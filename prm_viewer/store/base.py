"""The store's connection plumbing: opening (single owner), migrations, cursors, transactions.

Transactions are re-entrant. :meth:`StoreBase.transaction` opens one (taking the write lock) or,
when the calling thread is already in one, joins it: a write method called inside a caller's
transaction becomes part of it, and one called outside runs in its own. So write methods take no
cursor, and "all of it or none of it" is whatever the outermost ``with store.transaction()`` spans.

- The outermost block commits once (and bumps ``meta.data_version`` once) when it ends normally.
- An exception rolls back the outermost transaction: the store is left as it was. That holds for
  an exception raised in a nested block too, even when the caller catches it: the transaction is
  then doomed, and the outermost block, ending normally, rolls back and raises
  :class:`TransactionAborted` (DuckDB has no savepoints to undo just the nested part).
- Inside a transaction, :meth:`StoreBase.cursor` returns the transaction's cursor, so reads in the
  transaction see its own writes.
- A helper thread of the thread that opened a transaction (ingest's background writer) joins it
  with :meth:`StoreBase.joined`; the two threads must not use the cursor at the same time.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import sys
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Self

import duckdb

from prm_viewer.errors import PrmViewerError, StoreBusy
from prm_viewer.store import schema

_BUMP_DATA_VERSION = "UPDATE meta SET value = CAST(CAST(value AS BIGINT) + 1 AS VARCHAR) WHERE key = 'data_version'"


class TransactionAborted(PrmViewerError):
    """A nested write failed inside a transaction whose caller carried on: nothing was saved."""


def now() -> datetime:
    """The current UTC time as a naive timestamp (how the store records times)."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


def trace_key_base(cur: duckdb.DuckDBPyConnection, dataset_id: str) -> int:
    """The first integer trace key of a dataset being written: its trace of ordinal ``k`` gets
    key ``base + k``, above every other dataset's keys (one writer at a time: the store's lock),
    so keys stay unique in the store and the same across a dataset's batches."""
    row = cur.execute("SELECT coalesce(max(trace_key) + 1, 0) FROM traces WHERE dataset_id <> ?", [dataset_id]).fetchone()
    assert row is not None
    return int(row[0])


APP_HOLDER = "the prm_viewer app"
"""How the app names itself as the store's holder."""


def holder_file(path: Path) -> Path:
    """The side file naming the process that holds the store ``path`` (``<store>.holder.json``):
    written by the owner when it opens the store, removed when it closes it. DuckDB's lock error
    gives only the holder's pid; this says what that process is."""
    return path.with_name(path.name + ".holder.json")


def describe_process() -> str:
    """This process for a message: the CLI command line, else the program and its arguments."""
    argv = list(sys.argv)
    if argv and Path(argv[0]).name == "__main__.py" and Path(argv[0]).parent.name == "prm_viewer":
        text = "the CLI command `python -m prm_viewer " + shlex.join(argv[1:]) + "`"
    else:
        text = "`" + shlex.join([Path(sys.executable).name, *argv]) + "`"
    return text if len(text) <= 200 else text[:198] + "…`"


def _write_holder(path: Path, holder: str) -> None:
    tmp = holder_file(path).with_name(f".{holder_file(path).name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(json.dumps({"pid": os.getpid(), "holder": holder}), encoding="utf-8")
        os.replace(tmp, holder_file(path))
    except OSError:
        pass  # a read-only folder: messages fall back to the pid


def _remove_holder(path: Path) -> None:
    try:
        if json.loads(holder_file(path).read_text(encoding="utf-8")).get("pid") == os.getpid():
            holder_file(path).unlink()
    except (OSError, ValueError, AttributeError):
        pass


def read_holder(path: Path, pid: int | None) -> str | None:
    """What holds the store, from its side file, when the file names the process ``pid`` (a file
    left by a killed owner names another pid and is ignored)."""
    try:
        info = json.loads(holder_file(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(info, dict) or (pid is not None and info.get("pid") != pid):
        return None
    holder = info.get("holder")
    return str(holder) if holder else None


def busy_error(path: Path, pid: int | None) -> StoreBusy:
    """The one message for a store held by another process, naming the holder and its pid."""
    holder = read_holder(path, pid)
    return StoreBusy(
        f"the store {path} is held by another process" + (f", {holder}" if holder else "")
        + (f" (pid {pid})" if pid else "")
        + "; only one process may own it at a time: wait for it to finish or stop it"
        + (", or do this from the app" if holder and holder.startswith(APP_HOLDER) else ""))


@dataclass
class _Transaction:
    cur: duckdb.DuckDBPyConnection
    failure: BaseException | None = None
    """The first exception that left a nested block: the transaction can only roll back."""


class StoreBase:
    """One DuckDB file, opened by its one owner: connection, schema, cursors and transactions."""

    def __init__(self, path: str | Path, read_only: bool = False, owner: str | None = None) -> None:
        """``owner``: how this process is named to another one that finds the store held (the
        app passes "the prm_viewer app"); default: the command line of this process."""
        self.path = Path(path)
        self.read_only = read_only
        if not read_only:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.con = duckdb.connect(str(self.path), read_only=read_only)
        except duckdb.IOException as exc:
            msg = str(exc)
            if "lock" in msg.lower():
                pid = re.search(r"PID (\d+)", msg)
                raise busy_error(self.path, int(pid.group(1)) if pid else None) from None
            raise PrmViewerError(f"cannot open the store {self.path}: {msg.splitlines()[0]}") from None
        if not read_only:
            _write_holder(self.path, owner or describe_process())
        self._lock = threading.RLock()
        self._local = threading.local()
        self._active: _Transaction | None = None
        if read_only:
            self._check_derived()
        else:
            self._migrate()

    # ------------------------------------------------------------------ connection plumbing

    def close(self) -> None:
        self.con.close()
        if not self.read_only:
            _remove_holder(self.path)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A cursor for reads in the calling thread (DuckDB connections are not thread-safe);
        inside a transaction, the transaction's cursor."""
        tx: _Transaction | None = getattr(self._local, "tx", None)
        if tx is not None:
            return tx.cur
        cur: duckdb.DuckDBPyConnection | None = getattr(self._local, "cur", None)
        if cur is None:
            cur = self._local.cur = self.con.cursor()
        return cur

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """All-or-nothing write, re-entrant (see the module docstring): yields the cursor of the
        calling thread's transaction, opening one when there is none."""
        tx: _Transaction | None = getattr(self._local, "tx", None)
        if tx is not None:
            try:
                yield tx.cur
            except BaseException as exc:
                tx.failure = tx.failure or exc
                raise
            return
        with self._lock:
            cur = self.con.cursor()
            tx = _Transaction(cur)
            self._active = self._local.tx = tx
            try:
                cur.execute("BEGIN TRANSACTION")
                try:
                    yield cur
                    if tx.failure is not None:
                        raise TransactionAborted(
                            f"nothing was saved: a step of this change failed ({tx.failure})") from tx.failure
                    cur.execute(_BUMP_DATA_VERSION)
                    cur.execute("COMMIT")
                except BaseException:
                    cur.execute("ROLLBACK")
                    raise
            finally:
                self._active = self._local.tx = None
                cur.close()

    @contextmanager
    def joined(self, cur: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
        """Make the calling (helper) thread part of the open transaction whose cursor is ``cur``:
        its writes and reads go to that transaction. The thread that opened it must not use the
        cursor meanwhile. An exception here dooms the transaction, as in a nested block."""
        tx = self._active
        if tx is None or tx.cur is not cur:
            raise RuntimeError("Store.joined() needs the cursor of the store's open transaction")
        previous = getattr(self._local, "tx", None)
        self._local.tx = tx
        try:
            yield cur
        except BaseException as exc:
            tx.failure = tx.failure or exc
            raise
        finally:
            self._local.tx = previous

    def in_transaction(self) -> bool:
        """Whether the calling thread is inside a transaction (its writes join it)."""
        return getattr(self._local, "tx", None) is not None

    # ------------------------------------------------------------------ schema

    def _migrate(self) -> None:
        with self._lock:
            self.con.execute("CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR)")
            row = self.con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
            current = int(row[0]) if row else 0
            if current > schema.SCHEMA_VERSION:
                raise PrmViewerError(
                    f"the store {self.path} has schema version {current}, newer than this prm_viewer "
                    f"({schema.SCHEMA_VERSION}); upgrade prm_viewer"
                )
            for version in sorted(v for v in schema.MIGRATIONS if v > current):
                self._run_in_transaction(
                    *schema.MIGRATIONS[version],
                    f"INSERT OR REPLACE INTO meta VALUES ('schema_version', '{version}')",
                    "INSERT OR IGNORE INTO meta VALUES ('data_version', '0')",
                )
            # Macros and views hold no data: always this code's definitions (schema.DERIVED).
            self._run_in_transaction(
                *schema.DERIVED,
                f"INSERT OR REPLACE INTO meta VALUES ('derived_version', '{schema.DERIVED_VERSION}')",
            )

    def _run_in_transaction(self, *statements: str) -> None:
        self.con.execute("BEGIN TRANSACTION")
        try:
            for sql in statements:
                self.con.execute(sql)
            self.con.execute("COMMIT")
        except BaseException:
            self.con.execute("ROLLBACK")
            raise

    def _check_derived(self) -> None:
        """A read-only store cannot be brought up to date: say so rather than fail in a query."""
        try:
            meta = dict(self.con.execute(
                "SELECT key, value FROM meta WHERE key IN ('derived_version', 'schema_version')").fetchall())
        except duckdb.CatalogException:
            meta = {}  # not a prm_viewer store (yet)
        # An older schema has matching macros and views but lacks tables this code reads.
        if meta.get("derived_version") != schema.DERIVED_VERSION or meta.get("schema_version") != str(schema.SCHEMA_VERSION):
            self.con.close()
            raise PrmViewerError(
                f"the store {self.path} was last opened by another prm_viewer version; open it once "
                "read-write (start the app or run a CLI command on it) to bring it up to date"
            )

    def schema_version(self) -> int:
        row = self.cursor().execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        return int(row[0]) if row else 0

    def data_version(self) -> int:
        """Increases with every committed write: a cache key for readers."""
        row = self.cursor().execute("SELECT value FROM meta WHERE key = 'data_version'").fetchone()
        return int(row[0]) if row else 0

"""Learners' progress in an embedded SQLite database (standard library only; no streamlit, no torch).

Where: ``progress.sqlite3`` in the folder named by ``$ATTENTION_LAB_DATA``, else a per-user data folder
(``$XDG_DATA_HOME/attention-lab``, ``~/.local/share/attention-lab``; ``%LOCALAPPDATA%\\attention-lab`` on Windows),
created on first use and never inside the repository.

Schema (``PRAGMA user_version`` holds its version; :data:`MIGRATIONS` moves a file from any older version to
:data:`SCHEMA_VERSION`, one step per transaction)::

    learners(id TEXT PRIMARY KEY, created_at REAL)              -- one row per browser identity
    lesson_read(learner_id, lesson_id, read, updated_at)        -- PRIMARY KEY (learner_id, lesson_id)
    answers(learner_id, lesson_id, question_id, correct, attempts, updated_at)
                                                                -- PRIMARY KEY (learner_id, lesson_id, question_id)

Every query is keyed by the learner's id, so a learner reads and writes only its own rows. Ids are
:func:`new_learner_id`: 128 random bits from :mod:`secrets`; :func:`is_learner_id` rejects anything else.

Each change is one short transaction (``BEGIN IMMEDIATE`` … ``COMMIT``) on its own connection, in WAL mode with a
busy timeout, so many sessions (threads) can write at once without losing an answer. Every SQLite or file-system
failure (corrupt file, locked database, read-only file or folder) is raised as :class:`StoreError` with a sentence
a learner can read; the app then keeps that session's progress in memory.
"""

from __future__ import annotations

import os
import re
import secrets
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from course.quiz import empty_progress
from course.registry import ROOT

DATA_ENV = "ATTENTION_LAB_DATA"
DB_NAME = "progress.sqlite3"
LEARNER_ID_BYTES = 16  # 128 random bits
LEARNER_ID = re.compile(r"[A-Za-z0-9_-]{22}")  # secrets.token_urlsafe(16): 22 characters of base64url
BUSY_TIMEOUT_S = 5.0  # how long a write waits for another one before the database counts as locked


class StoreError(RuntimeError):
    """The progress database cannot be used (the message says why, in words a learner can act on)."""


def new_learner_id() -> str:
    """A fresh learner identity: 128 random bits from the OS's CSPRNG, URL-safe (22 characters)."""
    return secrets.token_urlsafe(LEARNER_ID_BYTES)


def is_learner_id(value: object) -> bool:
    """True when `value` has the exact shape of :func:`new_learner_id` (anything else is never looked up)."""
    return isinstance(value, str) and LEARNER_ID.fullmatch(value) is not None


def default_data_dir() -> Path:
    """$ATTENTION_LAB_DATA, else the per-user data folder; a default that would fall inside the repository (a home
    folder set to the checkout) moves to the temporary folder instead."""
    if os.environ.get(DATA_ENV):
        return Path(os.environ[DATA_ENV]).expanduser()
    if sys.platform == "win32" and os.environ.get("LOCALAPPDATA"):
        base = Path(os.environ["LOCALAPPDATA"])
    else:
        base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    folder = (base / "attention-lab").resolve()
    if folder.is_relative_to(ROOT):
        folder = Path(tempfile.gettempdir()) / f"attention-lab-{os.getuid() if hasattr(os, 'getuid') else 'user'}"
    return folder


# ---------------------------------------------------------------- schema and migrations


def _v1(db: sqlite3.Connection) -> None:
    db.execute("CREATE TABLE learners (id TEXT PRIMARY KEY, created_at REAL NOT NULL) WITHOUT ROWID")
    db.execute(
        "CREATE TABLE lesson_read (learner_id TEXT NOT NULL REFERENCES learners(id), lesson_id TEXT NOT NULL,"
        " read INTEGER NOT NULL, updated_at REAL NOT NULL, PRIMARY KEY (learner_id, lesson_id)) WITHOUT ROWID"
    )
    db.execute(
        "CREATE TABLE answers (learner_id TEXT NOT NULL REFERENCES learners(id), lesson_id TEXT NOT NULL,"
        " question_id TEXT NOT NULL, correct INTEGER NOT NULL, updated_at REAL NOT NULL,"
        " PRIMARY KEY (learner_id, lesson_id, question_id)) WITHOUT ROWID"
    )


def _v2(db: sqlite3.Connection) -> None:
    """Version 2 counts the checks of each question (answers from version 1 count as one)."""
    db.execute("ALTER TABLE answers ADD COLUMN attempts INTEGER NOT NULL DEFAULT 1")


MIGRATIONS: tuple[Callable[[sqlite3.Connection], None], ...] = (_v1, _v2)  # MIGRATIONS[i]: version i → i + 1
SCHEMA_VERSION = len(MIGRATIONS)


def _read_only(path: Path) -> bool:
    """True when the database file or its folder exists but this process may not write it."""
    if path.exists():
        return not (os.access(path, os.W_OK) and os.access(path.parent, os.W_OK))
    return path.parent.exists() and not os.access(path.parent, os.W_OK)


def _explain(err: BaseException, path: Path) -> str:
    """One sentence for a learner: what is wrong with the progress database and where it is."""
    text = str(err).lower()
    if isinstance(err, sqlite3.DatabaseError) and ("not a database" in text or "malformed" in text):
        why = "is damaged (not a readable SQLite database)"
    elif "locked" in text or "busy" in text:
        why = f"is locked by another program (waited {BUSY_TIMEOUT_S:g} s)"
    elif "readonly" in text or "read-only" in text or isinstance(err, PermissionError) or _read_only(path):
        why = "is read-only (this server may not write the file or its folder)"
    else:
        why = f"cannot be opened ({err})"
    return f"The progress database {path} {why}."


class ProgressStore:
    """Progress of every learner in one SQLite file; thread-safe (each call opens its own connection)."""

    def __init__(self, folder: Path | None = None) -> None:
        self.folder = Path(folder) if folder is not None else default_data_dir()
        self.path = self.folder / DB_NAME

    # -- connections

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        """A fresh connection in autocommit mode (transactions are explicit) on a file at SCHEMA_VERSION, closed
        afterwards; every SQLite or file-system failure is re-raised as StoreError."""
        db = None
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False)
            db.execute("PRAGMA foreign_keys = ON")
            db.execute("PRAGMA synchronous = NORMAL")  # in WAL mode: safe across app crashes, fsync per checkpoint
            if db.execute("PRAGMA user_version").fetchone()[0] != SCHEMA_VERSION:
                self._migrate(db)
            yield db
        except (sqlite3.Error, OSError) as err:
            raise StoreError(_explain(err, self.path)) from err
        finally:
            if db is not None:
                db.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (BEGIN IMMEDIATE: takes the write lock at once, waits up to the busy timeout)."""
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    def _migrate(self, db: sqlite3.Connection) -> None:
        """Create or migrate the file to SCHEMA_VERSION in one transaction; refuse a file from a newer app.

        The version is read again inside the transaction: of two connections that both found an old file, the
        second sees the first one's work and does nothing."""
        if db.execute("PRAGMA journal_mode = WAL").fetchone()[0].lower() != "wal":
            raise StoreError(f"The progress database {self.path} cannot use write-ahead logging.")
        db.execute("BEGIN IMMEDIATE")
        try:
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"The progress database {self.path} was written by a newer Attention Lab (schema "
                    f"{version}; this one knows up to {SCHEMA_VERSION})."
                )
            for step in range(version, SCHEMA_VERSION):
                MIGRATIONS[step](db)
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    # -- learners

    def create_learner(self) -> str:
        """Register a fresh identity (see :func:`new_learner_id`) and return it."""
        learner_id = new_learner_id()
        with self._transaction() as db:
            db.execute("INSERT INTO learners (id, created_at) VALUES (?, ?)", (learner_id, time.time()))
        return learner_id

    def has_learner(self, learner_id: object) -> bool:
        """True when `learner_id` is well-formed and registered here (malformed ids are never queried)."""
        if not is_learner_id(learner_id):
            return False
        with self._connect() as db:
            return db.execute("SELECT 1 FROM learners WHERE id = ?", (learner_id,)).fetchone() is not None

    # -- progress

    def load(self, learner_id: str) -> dict[str, Any]:
        """The learner's progress in the progress-file schema (``course.quiz``); empty for an unknown learner."""
        progress = empty_progress()
        if not is_learner_id(learner_id):
            return progress
        with self._connect() as db:
            for lesson_id, read in db.execute(
                "SELECT lesson_id, read FROM lesson_read WHERE learner_id = ?", (learner_id,)
            ):
                progress["lessons"].setdefault(lesson_id, {"read": False, "quiz": {}})["read"] = bool(read)
            for lesson_id, question_id, correct in db.execute(
                "SELECT lesson_id, question_id, correct FROM answers WHERE learner_id = ?", (learner_id,)
            ):
                progress["lessons"].setdefault(lesson_id, {"read": False, "quiz": {}})["quiz"][question_id] = bool(
                    correct
                )
        return progress

    def set_read(self, learner_id: str, lesson_id: str, read: bool) -> None:
        """Mark one lesson read or unread (one transaction)."""
        with self._transaction() as db:
            self._own(db, learner_id)
            db.execute(
                "INSERT INTO lesson_read (learner_id, lesson_id, read, updated_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (learner_id, lesson_id) DO UPDATE SET read = excluded.read, updated_at = excluded.updated_at",
                (learner_id, lesson_id, int(bool(read)), time.time()),
            )

    def record_answer(self, learner_id: str, lesson_id: str, question_id: str, correct: bool) -> None:
        """Record the latest check of one question: whether it was right, and one more attempt (one transaction)."""
        with self._transaction() as db:
            self._own(db, learner_id)
            db.execute(
                "INSERT INTO answers (learner_id, lesson_id, question_id, correct, attempts, updated_at)"
                " VALUES (?, ?, ?, ?, 1, ?) ON CONFLICT (learner_id, lesson_id, question_id) DO UPDATE SET"
                " correct = excluded.correct, attempts = attempts + 1, updated_at = excluded.updated_at",
                (learner_id, lesson_id, question_id, int(bool(correct)), time.time()),
            )

    def replace(self, learner_id: str, progress: dict[str, Any]) -> None:
        """Replace the learner's whole progress with `progress` (an imported file, already validated)."""
        now = time.time()
        with self._transaction() as db:
            self._own(db, learner_id)
            db.execute("DELETE FROM lesson_read WHERE learner_id = ?", (learner_id,))
            db.execute("DELETE FROM answers WHERE learner_id = ?", (learner_id,))
            for lesson_id, record in progress["lessons"].items():
                db.execute(
                    "INSERT INTO lesson_read (learner_id, lesson_id, read, updated_at) VALUES (?, ?, ?, ?)",
                    (learner_id, lesson_id, int(bool(record.get("read"))), now),
                )
                db.executemany(
                    "INSERT INTO answers (learner_id, lesson_id, question_id, correct, attempts, updated_at)"
                    " VALUES (?, ?, ?, ?, 1, ?)",
                    [(learner_id, lesson_id, q, int(bool(c)), now) for q, c in record.get("quiz", {}).items()],
                )

    @staticmethod
    def _own(db: sqlite3.Connection, learner_id: str) -> None:
        """Refuse a write for an id that is malformed or not registered (nobody writes rows for an id they made up)."""
        if not is_learner_id(learner_id) or db.execute(
            "SELECT 1 FROM learners WHERE id = ?", (learner_id,)
        ).fetchone() is None:
            raise StoreError("This learner identity is not known to the progress database.")

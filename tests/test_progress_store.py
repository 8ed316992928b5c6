"""course.progress_store: identities, isolation between learners, schema version and migration, concurrent writers,
and a clear StoreError for a corrupt, locked, read-only or unreachable database. Also the progress-file import notes
and the search over quiz prompts (pure Python, no Streamlit)."""

from __future__ import annotations

import base64
import os
import sqlite3
import tempfile
import threading
from pathlib import Path

import pytest

import course.progress_store as store_module
from course.lesson_format import Lesson, Question, load_lessons
from course.progress_store import (
    DATA_ENV,
    DB_NAME,
    MIGRATIONS,
    SCHEMA_VERSION,
    ProgressStore,
    StoreError,
    default_data_dir,
    is_learner_id,
    new_learner_id,
)
from course.quiz import progress_from_json
from course.registry import ROOT
from course.search import search_lessons

LESSON, OTHER = "06_multi_head", "05_masks"


@pytest.fixture
def store(tmp_path) -> ProgressStore:
    return ProgressStore(tmp_path / "data")


def attempts(store: ProgressStore, learner: str, lesson: str, question: str) -> int:
    """How many checks of one question the file counts (schema version 2's `attempts` column)."""
    with sqlite3.connect(store.path) as db:
        row = db.execute(
            "SELECT attempts FROM answers WHERE learner_id = ? AND lesson_id = ? AND question_id = ?",
            (learner, lesson, question),
        ).fetchone()
    return row[0] if row else 0


def test_learner_ids_are_128_random_bits_and_nothing_else_passes():
    ids = {new_learner_id() for _ in range(1000)}
    assert len(ids) == 1000 and all(is_learner_id(i) for i in ids)
    assert all(len(base64.urlsafe_b64decode(i + "==")) == 16 for i in ids)
    good = next(iter(ids))
    for bad in ["", good[:-1], good + "A", good[:-1] + "=", good[:-1] + "/", f" {good[1:]}", None, 12, b"x" * 22]:
        assert not is_learner_id(bad), bad


def test_each_learner_reads_and_changes_only_its_own_progress(store):
    a, b = store.create_learner(), store.create_learner()
    assert a != b and store.has_learner(a) and store.has_learner(b)
    store.set_read(a, LESSON, True)
    store.record_answer(a, LESSON, "d_k", True)
    store.record_answer(a, OTHER, "padding", False)
    assert store.load(a)["lessons"] == {
        LESSON: {"read": True, "quiz": {"d_k": True}},
        OTHER: {"read": False, "quiz": {"padding": False}},
    }
    assert store.load(b)["lessons"] == {}
    store.record_answer(b, LESSON, "d_k", False)
    assert store.load(a)["lessons"][LESSON]["quiz"] == {"d_k": True}
    made_up = new_learner_id()  # well-formed but never registered: nothing to read, nothing may be written
    assert not store.has_learner(made_up) and store.load(made_up)["lessons"] == {}
    for who in (made_up, "'; DROP TABLE answers; --", a[:-1]):
        with pytest.raises(StoreError):
            store.record_answer(who, LESSON, "d_k", True)
        with pytest.raises(StoreError):
            store.set_read(who, LESSON, True)
    assert not store.has_learner("not an id") and store.load("not an id")["lessons"] == {}
    assert store.load(a)["lessons"][LESSON]["quiz"] == {"d_k": True}


def test_progress_survives_a_new_store_on_the_same_folder(store):
    a = store.create_learner()
    store.set_read(a, LESSON, True)
    store.record_answer(a, LESSON, "d_k", False)
    store.record_answer(a, LESSON, "d_k", True)  # the latest check counts
    again = ProgressStore(store.folder)  # as after a server restart
    assert again.load(a)["lessons"] == {LESSON: {"read": True, "quiz": {"d_k": True}}}
    assert attempts(again, a, LESSON, "d_k") == 2


def test_file_is_wal_with_the_schema_version(store):
    store.create_learner()
    with sqlite3.connect(store.path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == len(MIGRATIONS)


def test_a_version_1_file_is_migrated_and_keeps_its_data(tmp_path):
    folder = tmp_path / "old"
    folder.mkdir()
    learner = new_learner_id()
    with sqlite3.connect(folder / DB_NAME) as db:  # what the first release wrote
        MIGRATIONS[0](db)
        db.execute("PRAGMA user_version = 1")
        db.execute("INSERT INTO learners VALUES (?, 0)", (learner,))
        db.execute("INSERT INTO lesson_read VALUES (?, ?, 1, 0)", (learner, LESSON))
        db.execute("INSERT INTO answers VALUES (?, ?, 'd_k', 1, 0)", (learner, LESSON))
    store = ProgressStore(folder)
    assert store.load(learner)["lessons"] == {LESSON: {"read": True, "quiz": {"d_k": True}}}
    assert attempts(store, learner, LESSON, "d_k") == 1
    store.record_answer(learner, LESSON, "d_k", False)
    assert attempts(store, learner, LESSON, "d_k") == 2
    with sqlite3.connect(folder / DB_NAME) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_a_file_from_a_newer_app_is_refused_with_a_message(store):
    store.create_learner()
    with sqlite3.connect(store.path) as db:
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(StoreError, match="newer Attention Lab"):
        ProgressStore(store.folder).load(new_learner_id())


def test_a_failed_change_leaves_the_old_progress_whole(store):
    a = store.create_learner()
    store.record_answer(a, LESSON, "d_k", True)
    broken = {"version": 1, "lessons": {OTHER: {"read": True, "quiz": {}}, LESSON: {"read": True, "quiz": None}}}
    with pytest.raises(AttributeError):  # fails half-way through its one transaction
        store.replace(a, broken)
    assert store.load(a)["lessons"] == {LESSON: {"read": False, "quiz": {"d_k": True}}}


def test_twenty_threads_answering_at_once_lose_no_answer(store):
    n_threads, n_questions = 20, 25
    own = [store.create_learner() for _ in range(n_threads)]
    shared = store.create_learner()  # one learner with twenty tabs open, too
    start = threading.Barrier(n_threads)
    failures: list[BaseException] = []

    def answer(i: int) -> None:
        try:
            start.wait()
            for q in range(n_questions):
                store.record_answer(own[i], LESSON, f"q{q}", (i + q) % 2 == 0)
                store.record_answer(shared, OTHER, f"t{i}_q{q}", True)
                store.record_answer(shared, LESSON, "same", q % 2 == 0)
            store.set_read(own[i], LESSON, True)
        except BaseException as err:  # noqa: BLE001 — reported below
            failures.append(err)

    threads = [threading.Thread(target=answer, args=(i,)) for i in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not failures, failures
    for i, learner in enumerate(own):
        record = store.load(learner)["lessons"][LESSON]
        assert record == {"read": True, "quiz": {f"q{q}": (i + q) % 2 == 0 for q in range(n_questions)}}
    mine = store.load(shared)["lessons"]
    assert len(mine[OTHER]["quiz"]) == n_threads * n_questions
    assert attempts(store, shared, LESSON, "same") == n_threads * n_questions


# ---------------------------------------------------------------- failures → StoreError with a clear message


def test_a_corrupt_file_is_reported_as_damaged(store):
    store.folder.mkdir(parents=True)
    store.path.write_bytes(b"this is not a database, just text that got here somehow" * 100)
    with pytest.raises(StoreError, match="damaged"):
        store.load(new_learner_id())
    with pytest.raises(StoreError, match="damaged"):
        store.create_learner()


def test_a_locked_database_is_reported_after_the_busy_timeout(store, monkeypatch):
    a = store.create_learner()
    monkeypatch.setattr(store_module, "BUSY_TIMEOUT_S", 0.2)
    holder = sqlite3.connect(store.path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another program holds the write lock
    try:
        with pytest.raises(StoreError, match="locked"):
            store.record_answer(a, LESSON, "d_k", True)
        assert store.load(a)["lessons"] == {}  # WAL: reading still works while the writer waits
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    store.record_answer(a, LESSON, "d_k", True)
    assert store.load(a)["lessons"][LESSON]["quiz"] == {"d_k": True}


def test_a_folder_that_cannot_be_created_is_reported(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    with pytest.raises(StoreError, match="cannot be opened"):
        ProgressStore(blocker / "data").create_learner()


def _as_unprivileged_user(job) -> str:
    """Run `job()` in a forked child without root's right to write anywhere (uid/gid 65534: nobody); return what it
    returned, or the text of what it raised."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: drop privileges, run, report, exit without running pytest's teardown
        try:
            os.setgid(65534)
            os.setuid(65534)
            result = f"ok: {job()}"
        except BaseException as err:  # noqa: BLE001 — reported to the parent
            result = f"{type(err).__name__}: {err}"
        os.write(write, result.encode()[:4000])
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        text = pipe.read()
    os.waitpid(pid, 0)
    return text


def test_a_read_only_database_is_reported_as_read_only():
    folder = Path(tempfile.mkdtemp(prefix="attention-lab-ro-"))  # not under pytest's root-only tmp folder
    try:
        store = ProgressStore(folder / "data")
        a = store.create_learner()
        store.record_answer(a, LESSON, "d_k", True)
        with sqlite3.connect(store.path) as db:
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        folder.chmod(0o755)
        for path in store.folder.iterdir():
            path.chmod(0o444)
        store.folder.chmod(0o555)

        def write() -> str:
            store.record_answer(a, LESSON, "d_k", False)
            return "written"

        outcome = _as_unprivileged_user(write) if os.geteuid() == 0 else _run_here(write)
        assert outcome.startswith("StoreError:") and "read-only" in outcome, outcome
    finally:
        store.folder.chmod(0o755)
        for path in store.folder.iterdir():
            path.chmod(0o644)
    assert ProgressStore(folder / "data").load(a)["lessons"][LESSON]["quiz"] == {"d_k": True}


def _run_here(job) -> str:
    try:
        return f"ok: {job()}"
    except BaseException as err:  # noqa: BLE001
        return f"{type(err).__name__}: {err}"


# ---------------------------------------------------------------- where the database lives


def test_the_data_folder_is_the_env_var_or_a_per_user_folder_outside_the_repository(monkeypatch, tmp_path):
    monkeypatch.setenv(DATA_ENV, str(tmp_path / "mine"))
    assert default_data_dir() == tmp_path / "mine"
    monkeypatch.delenv(DATA_ENV)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert default_data_dir() == (tmp_path / "xdg" / "attention-lab").resolve()
    monkeypatch.delenv("XDG_DATA_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_data_dir() == (tmp_path / "home" / ".local" / "share" / "attention-lab").resolve()
    monkeypatch.setenv("HOME", str(ROOT))  # a home folder that is the checkout: the default moves out of it
    assert not default_data_dir().is_relative_to(ROOT)


def test_tests_never_use_the_real_per_user_folder(progress_data_dir):
    assert default_data_dir() == progress_data_dir
    assert Path(tempfile.gettempdir()) in progress_data_dir.parents


# ---------------------------------------------------------------- progress files and search


def test_an_imported_file_names_what_the_course_does_not_have():
    raw = (
        b'{"version": 1, "lessons": {"99_gone": {"read": true}, "06_multi_head": {"read": true,'
        b' "quiz": {"d_k": true, "zz": false}}}}'
    )
    ignored: list[str] = []
    clean = progress_from_json(raw, load_lessons(), ignored)
    assert clean["lessons"] == {"06_multi_head": {"read": True, "quiz": {"d_k": True}}}
    assert ignored == ["lesson '99_gone'", "question '06_multi_head/zz'"]


def test_search_finds_words_that_only_a_quiz_prompt_has():
    question = Question("q1", "mc", "How many **zebrafish** fit in a $d_k$ cache?", 0, "none", ("a", "b"))
    lesson = Lesson("90_x", Path("90_x.md"), "Some title", "Foundations", 90, "masks", (), (), (), (question,), "Body.")
    hits = search_lessons("zebrafish", (lesson,))
    assert [h.lesson.id for h in hits] == ["90_x"] and hits[0].snippet.startswith("Quiz: ")
    assert "**" not in hits[0].snippet and "$" not in hits[0].snippet
    assert search_lessons("body", (lesson,))[0].snippet == "Body."

"""The course map headless (AppTest through app.py): progress per section and lesson from the database, "continue
where you left off", the personal link (taken only when the database knows it, and never left in the URL), the
search box, the progress file, and a clear note, never a traceback, when the database is corrupt, locked or out of
reach (progress then stays in the session's memory)."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys

import pytest
from streamlit.testing.v1 import AppTest

import course.progress_store as store_module
from course.progress_store import DATA_ENV, DB_NAME, ProgressStore, new_learner_id
from tests.apptest_utils import APP, ROOT, TIMEOUT_S, error_messages, lesson_line, open_page, section_line
from ui.course_map import FILES_PANEL, LINK_PANEL

HOME = "pages/start/home.py"
MHA = "06_multi_head"


def open_map(panels_open: bool = True, **query) -> AppTest:
    """The app's home page (the course map), opened with `query` as the URL's query parameters; with
    `panels_open`, its two panels under "Your progress" (link and code, progress file) open, as a learner's clicks
    leave them."""
    at = AppTest.from_file(APP, default_timeout=TIMEOUT_S)
    at.query_params.update(query)
    return open_panels(at).run() if panels_open else at.run()


def open_panels(at: AppTest) -> AppTest:
    """Both panels open from the next run on, as after a learner's clicks. (AppTest then sees each panel's state
    change once more in the run after, and reruns it as a browser's click would: tests settle with one plain run
    before they click inside a panel.)"""
    for key in (LINK_PANEL, FILES_PANEL):
        at.session_state[key] = True
    return at


def _text(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption] + [p.proto.text for p in at.get("progress")]
    alerts = [a.value for kind in (at.info, at.warning, at.success, at.error) for a in kind]
    return "\n".join(parts + [link.proto.label for link in at.get("page_link")] + alerts)


def _learner(at: AppTest) -> str:
    return at.session_state["_learner"].id


def _seeded_learner() -> str:
    """A learner who finished lessons 00 (read, 4/4 right) and 01 (read, 3/3 right) and read lesson 02 with 2 of its
    4 questions answered."""
    store = ProgressStore()
    learner = store.create_learner()
    store.set_read(learner, "00_tokens_and_embeddings", True)
    for question in ("no_merges", "emoji_tokens", "merge_order", "layer_zero"):
        store.record_answer(learner, "00_tokens_and_embeddings", question, True)
    store.set_read(learner, "01_why_attention", True)
    for question in ("bottleneck", "context_per_step", "luong_general"):
        store.record_answer(learner, "01_why_attention", question, True)
    store.set_read(learner, "02_scaled_dot_product", True)
    store.record_answer(learner, "02_scaled_dot_product", "row_sum", True)
    store.record_answer(learner, "02_scaled_dot_product", "weights_shape", False)
    return learner


def test_a_fresh_learner_sees_start_here_and_zero_progress():
    at = open_map()
    assert not at.exception, error_messages(at)
    text = _text(at)
    assert "Start here" in text and "Continue where you left off" not in text
    assert section_line("Foundations", 0, 0, 0) in text
    assert len(at.get("progress")) == 6  # one bar per section
    assert ProgressStore().has_learner(_learner(at))  # the identity is registered at once


def test_the_panels_under_your_progress_are_drawn_only_once_opened():
    at = open_map(panels_open=False)
    assert not at.exception, error_messages(at)
    assert not at.get("code") and not at.get("file_uploader") and not at.get("download_button")
    assert not [t for t in at.text_input if t.key == "learner_code"]
    at.session_state[LINK_PANEL] = True  # the learner opens the first panel
    at.run()
    assert [c.value for c in at.get("code")] == [f"/?learner={_learner(at)}", _learner(at)]
    assert not at.get("file_uploader")
    at.session_state[FILES_PANEL] = True
    at.run()
    assert at.file_uploader(key="progress_upload") and at.get("download_button")


def test_the_personal_link_shows_that_learners_progress_per_section_and_lesson():
    learner = _seeded_learner()
    at = open_map(learner=learner)
    assert not at.exception, error_messages(at)
    assert _learner(at) == learner and "learner" not in at.query_params  # taken, and gone from the address
    text = _text(at)
    assert "This browser now keeps the progress of your personal link." in text
    assert section_line("Foundations", 3, 9, 8) in text
    assert "📖 Scaled dot-product attention — " + lesson_line("02_scaled_dot_product", True, 2, 1) in text.replace("\\", "")
    links = {link.proto.label: link.proto.page for link in at.get("page_link")}
    continue_link = next(page for label, page in links.items() if "Continue where you left off" in label)
    assert "attention_step_by_step" in continue_link  # lesson 02 is read but two questions are still open
    assert [c.value for c in at.get("code")] == [f"/?learner={learner}", learner]  # link and code, shown as text


@pytest.mark.parametrize("link", ["made-up", "<script>alert(1)</script>", "x" * 22, "unknown"])
def test_an_unknown_or_malformed_link_gets_a_fresh_identity_not_someone_elses(link):
    victim = _seeded_learner()
    if link == "unknown":
        link = new_learner_id()  # well-formed, never issued by this server
    at = open_map(learner=link)
    assert not at.exception, error_messages(at)
    assert _learner(at) not in (link, victim) and "learner" not in at.query_params
    text = _text(at)
    assert "not known here" in text and section_line("Foundations", 0, 0, 0) in text
    assert all("<script" not in m.value or not m.proto.allow_html for m in at.markdown)


def test_a_personal_code_typed_on_the_map_takes_that_progress_and_a_wrong_one_does_not():
    learner = _seeded_learner()
    at = open_map().run()
    mine = _learner(at)
    at.text_input(key="learner_code").set_value(learner[:-1] + "?")
    at.button(key="FormSubmitter:learner_code_form-Use this code").click().run()
    assert not at.exception and _learner(at) == mine
    assert any("No progress is kept under that code" in e.value for e in at.error)
    at.text_input(key="learner_code").set_value(f"  {learner} ")
    at.button(key="FormSubmitter:learner_code_form-Use this code").click().run()
    assert not at.exception, error_messages(at)
    assert _learner(at) == learner and section_line("Foundations", 3, 9, 8) in _text(at)
    assert "This browser now keeps the progress of that code." in _text(at)


def test_answers_on_a_page_are_saved_and_the_map_shows_them():
    at = open_page("pages/multihead_positions/multi_head.py")
    assert not at.exception, error_messages(at)
    learner = _learner(at)
    at.radio(key=f"quiz::{MHA}::heads_vs_params::choice").set_value(2)
    at.button(key=f"FormSubmitter:quiz::{MHA}::heads_vs_params::form-Check").click().run()
    at.checkbox(key=f"read::{MHA}").check().run()
    assert not at.exception, error_messages(at)
    assert ProgressStore().load(learner)["lessons"][MHA] == {"read": True, "quiz": {"heads_vs_params": True}}
    at.switch_page(HOME).run()  # the same session opens the map
    assert section_line("Multi-head & positions", 1, 1, 1) in _text(at)
    other = open_map()  # another browser: its own, empty progress
    assert _learner(other) != learner and section_line("Multi-head & positions", 0, 0, 0) in _text(other)


def test_the_search_box_links_to_pages_and_never_renders_html():
    at = open_map()
    at.text_input(key="lesson_search").set_value("rotary").run()
    assert not at.exception, error_messages(at)
    assert any("positional_encodings" in link.proto.page for link in at.get("page_link")
               if "Positional encodings" in link.proto.label)
    at.text_input(key="lesson_search").set_value("<img src=x onerror=alert(1)>").run()
    assert not at.exception and at.info
    assert all("<img" not in m.value or not m.proto.allow_html for m in at.markdown)


def test_a_progress_file_restores_into_the_database_and_names_what_was_left_out():
    at = open_map().run()
    learner = _learner(at)
    upload = {"version": 1, "lessons": {MHA: {"read": True, "quiz": {"d_k": True, "nope": True}}, "99_x": {}}}
    at.file_uploader(key="progress_upload").set_value(("p.json", json.dumps(upload).encode(), "application/json"))
    at.run()
    assert not at.exception, error_messages(at)
    assert ProgressStore().load(learner)["lessons"] == {MHA: {"read": True, "quiz": {"d_k": True}}}
    message = " ".join(s.value for s in at.success).replace("\\", "")
    assert "restored for 1 lesson" in message and "lesson '99_x'" in message and f"question '{MHA}/nope'" in message
    at.file_uploader(key="progress_upload").set_value(("bad.json", b"{not json", "application/json"))
    at.run()
    assert not at.exception and any("Could not restore progress" in e.value for e in at.error)


# ---------------------------------------------------------------- a database that cannot be used


def _answer_on_page(at: AppTest, choice: int = 2) -> None:
    at.radio(key=f"quiz::{MHA}::heads_vs_params::choice").set_value(choice)
    at.button(key=f"FormSubmitter:quiz::{MHA}::heads_vs_params::form-Check").click().run()


def _assert_kept_in_memory(at: AppTest, why: str) -> None:
    assert not at.exception, error_messages(at)
    assert at.session_state["progress"]["lessons"][MHA]["quiz"] == {"heads_vs_params": True}
    notes = [w.value for w in at.warning if "cannot be saved" in w.value]
    assert notes and why in notes[0], [w.value for w in at.warning]


def test_a_corrupt_database_gives_a_note_and_progress_in_memory(progress_data_dir):
    progress_data_dir.mkdir(parents=True)
    (progress_data_dir / DB_NAME).write_bytes(b"garbage, not SQLite " * 200)
    at = open_page("pages/multihead_positions/multi_head.py")
    _answer_on_page(at)
    _assert_kept_in_memory(at, "damaged")
    assert lesson_line(MHA, False, 1, 1) in _text(at)
    at.switch_page(HOME).run()
    assert not at.exception and section_line("Multi-head & positions", 0, 1, 1) in _text(at)
    assert any("damaged" in w.value for w in at.warning)


def test_a_locked_database_gives_a_note_and_keeps_the_answer_in_memory(monkeypatch):
    at = open_page("pages/multihead_positions/multi_head.py")
    learner = _learner(at)
    monkeypatch.setattr(store_module, "BUSY_TIMEOUT_S", 0.2)
    holder = sqlite3.connect(ProgressStore().path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another program holds the write lock
    try:
        _answer_on_page(at)
        _assert_kept_in_memory(at, "locked")
        _answer_on_page(at, choice=0)  # the session goes on in memory: no more waiting for the lock
        assert at.session_state["progress"]["lessons"][MHA]["quiz"] == {"heads_vs_params": False}
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert ProgressStore().load(learner)["lessons"] == {}


def test_an_unreachable_data_folder_gives_a_note_and_the_map_still_works(monkeypatch, tmp_path):
    (tmp_path / "a-file").write_text("x")
    monkeypatch.setenv(DATA_ENV, str(tmp_path / "a-file" / "data"))  # cannot be created: a file is in the way
    at = open_map()
    assert not at.exception, error_messages(at)
    assert any("cannot be saved" in w.value for w in at.warning)
    assert "Start here" in _text(at) and len(at.get("progress")) == 6


def test_the_map_and_the_store_import_neither_torch_nor_the_core():
    """The course map paints before torch is loaded (cold start): its modules must not pull torch or core in."""
    code = (
        "import sys; import ui.course_map, ui.learner, ui.progress, course.progress_store; "
        "bad = [m for m in sys.modules if m == 'torch' or m == 'core' or m.startswith('core.')]; print(bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "[]", out.stdout + out.stderr

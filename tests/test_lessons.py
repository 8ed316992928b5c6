"""The lessons: every file parses, points at a real page, has a valid quiz, real prose, resolvable live numbers and
code that exists in core/; plus the pure logic behind them (placeholders, grading, progress files, search)."""

from __future__ import annotations

import inspect
import json
import math
import re
from pathlib import Path

import pytest

from course.code_refs import resolve_code_name
from course.lesson_format import LessonError, load_lessons, parse_lesson
from course.live_numbers import RESOLVERS
from course.markdown_text import PLACEHOLDER, escape_markdown, plain_text
from course.placeholders import PlaceholderError, format_value, placeholders_in, render_placeholders, resolve_value
from course.quiz import (
    ProgressError,
    check_answer,
    empty_progress,
    expected_answer,
    parse_number,
    progress_from_json,
    progress_to_json,
    record_answer,
    section_progress,
    set_read,
    validate_progress,
)
from course.registry import _ENTRIES, PAGES, SECTIONS
from course.search import search_lessons

LESSONS = load_lessons()
LESSON_IDS = [x.id for x in LESSONS]
ENTRY_BY_SLUG = {e.slug: e for e in _ENTRIES}
CODE_NAMES = sorted({(x.id, name) for x in LESSONS for name in x.code})
PLACEHOLDERS = sorted({(x.id, p) for x in LESSONS for p in placeholders_in(x)})
QUESTIONS = [(x, q) for x in LESSONS for q in x.quiz]


# ---------------------------------------------------------------- the lesson files


def test_enough_lessons_and_every_expected_file():
    names = {x.path.name for x in LESSONS}
    expected = {e.lesson for e in _ENTRIES} | {"01_why_attention.md", "16_efficiency_techniques.md"}
    assert expected <= names, f"missing lesson files: {sorted(expected - names)}"
    assert len(LESSONS) >= 14


@pytest.mark.parametrize("lesson", LESSONS, ids=LESSON_IDS)
def test_lesson_points_at_a_real_page_of_its_section(lesson):
    assert lesson.page in ENTRY_BY_SLUG, f"{lesson.id}: page {lesson.page!r} is not in course/registry.py"
    entry = ENTRY_BY_SLUG[lesson.page]
    assert lesson.section == entry.section, f"{lesson.id}: section {lesson.section!r} != page's {entry.section!r}"
    if entry.module_path.is_file():
        assert entry in PAGES


def test_every_registry_page_has_a_lesson():
    for entry in _ENTRIES:
        assert entry.lesson_path.is_file(), f"{entry.slug}: lessons/{entry.lesson} is missing"
        assert any(x.page == entry.slug or x.path.name == entry.lesson for x in LESSONS), entry.slug


@pytest.mark.parametrize("lesson", LESSONS, ids=LESSON_IDS)
def test_lesson_is_real_prose(lesson):
    assert 350 <= lesson.word_count <= 1100, f"{lesson.id}: {lesson.word_count} words"
    text = lesson.path.read_text(encoding="utf-8")
    assert not re.search(r"\b(TODO|TBD|FIXME|XXX|lorem|ipsum)\b", text, re.IGNORECASE), lesson.id
    assert len(lesson.objectives) >= 2
    assert 2 <= len(lesson.quiz) <= 5, f"{lesson.id}: {len(lesson.quiz)} questions"


@pytest.mark.parametrize("lesson", LESSONS, ids=LESSON_IDS)
def test_math_and_strings_are_well_formed(lesson):
    # JSON escapes such as \t or \f in front matter would silently eat a LaTeX backslash (\theta, \frac).
    strings = [lesson.title, *lesson.objectives] + [
        s for q in lesson.quiz for s in (q.prompt, q.explanation, *q.options)
    ]
    assert not any(re.search(r"[\x00-\x08\x0b-\x1f]", s) for s in strings), lesson.id
    for block in lesson.body.split("\n\n"):
        without_display = re.sub(r"\$\$.*?\$\$", "", block, flags=re.DOTALL)
        assert "$$" not in without_display, f"{lesson.id}: unbalanced $$ in {block[:80]!r}"
        assert without_display.count("$") % 2 == 0, f"{lesson.id}: unbalanced $ in {block[:80]!r}"


def test_orders_unique_and_prerequisites_come_first():
    position = {x.id: i for i, x in enumerate(LESSONS)}
    for section in SECTIONS:
        orders = [x.order for x in LESSONS if x.section == section]
        assert len(orders) == len(set(orders)), section
    for lesson in LESSONS:
        for prerequisite in lesson.prerequisites:
            assert prerequisite in position, f"{lesson.id}: unknown prerequisite {prerequisite!r}"
            assert position[prerequisite] < position[lesson.id], f"{lesson.id} comes before {prerequisite}"


@pytest.mark.parametrize(("lesson_id", "name"), CODE_NAMES, ids=[f"{i}:{n}" for i, n in CODE_NAMES])
def test_code_names_exist_in_core(lesson_id, name):
    obj = resolve_code_name(name)  # fails honestly (ImportError / AttributeError) when the name does not exist
    assert inspect.getsource(obj).strip()


@pytest.mark.parametrize(("lesson_id", "placeholder"), PLACEHOLDERS, ids=[f"{i}:{p}" for i, p in PLACEHOLDERS])
def test_placeholders_resolve(lesson_id, placeholder):
    value = resolve_value(placeholder)
    assert isinstance(value, (int, float)) and math.isfinite(value) and value >= 0
    rendered, errors = render_placeholders(placeholder)
    assert not errors and "n/a" not in rendered


@pytest.mark.parametrize(("lesson", "question"), QUESTIONS, ids=[f"{x.id}:{q.id}" for x, q in QUESTIONS])
def test_answer_key_is_valid_and_grades_itself_right(lesson, question):
    answer = expected_answer(question)
    if question.kind == "mc":
        assert 0 <= answer < len(question.options)
        assert check_answer(question, answer).correct
        assert not check_answer(question, (answer + 1) % len(question.options)).correct
    else:
        assert math.isfinite(answer)
        assert check_answer(question, answer).correct
        assert not check_answer(question, answer * 1.5 + 1).correct


# ---------------------------------------------------------------- numbers the lessons state


def test_live_numbers_match_the_formulas_the_lessons_give():
    d, h, ff = 512, 8, 2048
    assert resolve_value("{{ mha_params(d_model=512, n_heads=8) }}") == 4 * d * d + 4 * d
    assert resolve_value("{{ mha_params(d_model=512, n_heads=8, bias=False) }}") == 4 * d * d
    assert resolve_value("{{ mha_params(d_model=512, n_heads=1) }}") == 4 * d * d + 4 * d  # heads do not change it
    assert resolve_value("{{ ffn_params(d_model=512, d_ff=2048) }}") == 2 * d * ff + ff + d
    assert resolve_value("{{ encoder_layer_params(d_model=512, n_heads=8, d_ff=2048) }}") == (
        4 * d * d + 4 * d + 2 * d * ff + ff + d + 2 * 2 * d
    )
    assert resolve_value("{{ mha_params(d_model=4096, n_heads=32, n_kv_heads=8, bias=False) }}") == (
        2 * 4096**2 + 2 * 4096 * 1024
    )
    assert resolve_value("{{ kv_cache_bytes(n_layers=32, n_kv_heads=32, d_head=128, seq_len=4096) }}") == 2 * 2**30
    assert resolve_value("{{ attention_matrix_bytes(seq_len=8192, n_heads=16) }}") == 16 * 8192**2 * 4
    assert resolve_value("{{ vit_tokens(image_size=224, patch_size=16) }}") == 197
    assert resolve_value("{{ lora_params(d_in=4096, d_out=4096, rank=8) }}") == 8 * (4096 + 4096)
    assert resolve_value("{{ alibi_slope(n_heads=8, head=0) }}") == 0.5
    assert abs(resolve_value("{{ dot_product_std(d_k=512) }}") - math.sqrt(512)) < 0.1 * math.sqrt(512)
    assert abs(resolve_value("{{ dot_product_std(d_k=512, scaled=True) }}") - 1) < 0.1
    assert h == 8


def test_flash_attention_facts_are_stated_precisely():
    flash = next(x for x in LESSONS if x.id == "12_complexity_flash")
    text = flash.body
    assert "Exact" in text and "$O(n)$" in text and "FLOPs still $O(n^2 d)$" in text
    variants = next(x for x in LESSONS if x.id == "13_efficient_variants").body
    for cost in (r"O(n\,w\,d)", r"O(n\,k\,d)", r"O(n \log n \cdot d)", r"O(n\,d^2)"):
        assert cost in variants, cost


# ---------------------------------------------------------------- parser and placeholders


def _lesson_text(meta: dict, body: str = "Body.") -> str:
    return "---\n" + json.dumps(meta) + "\n---\n" + body


GOOD_META = {
    "title": "T",
    "section": "Foundations",
    "order": 1,
    "page": "masks",
    "objectives": ["a", "b"],
    "code": [],
    "quiz": [{"id": "q", "kind": "mc", "prompt": "p", "options": ["x", "y"], "answer": 1, "explanation": "e"}],
}


def test_parser_accepts_a_minimal_lesson():
    lesson = parse_lesson(_lesson_text(GOOD_META, "Some *text*."), Path("99_x.md"))
    assert lesson.id == "99_x" and lesson.quiz[0].answer == 1 and lesson.body.strip() == "Some *text*."


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"section": "Nowhere"}, "section"),
        ({"order": "1"}, "order"),
        ({"quiz": [{**GOOD_META["quiz"][0], "answer": 2}]}, "option index"),
        ({"quiz": [{**GOOD_META["quiz"][0], "answer": True}]}, "option index"),
        ({"quiz": [{**GOOD_META["quiz"][0], "options": ["only"]}]}, "two text options"),
        ({"quiz": [{**GOOD_META["quiz"][0], "kind": "essay"}]}, "kind"),
        ({"quiz": [{"id": "n", "kind": "numeric", "prompt": "p", "answer": "42", "explanation": "e"}]}, "placeholder"),
        ({"quiz": [GOOD_META["quiz"][0], GOOD_META["quiz"][0]]}, "unique"),
        ({"objectives": [""]}, "objectives"),
    ],
)
def test_parser_rejects_bad_front_matter(change, message):
    with pytest.raises(LessonError, match=message):
        parse_lesson(_lesson_text({**GOOD_META, **change}), Path("bad.md"))


@pytest.mark.parametrize("text", ["no front matter", "---\n{not json}\n---\nbody", "---\n[1, 2]\n---\n", "---\n{}\n"])
def test_parser_rejects_broken_files(text):
    with pytest.raises(LessonError, match="bad.md"):
        parse_lesson(text, Path("bad.md"))


@pytest.mark.parametrize(
    "placeholder",
    [
        "{{ unknown_thing(d=1) }}",
        "{{ mha_params(512, 8) }}",  # positional arguments are not accepted
        "{{ mha_params(d_model=__import__('os').getcwd()) }}",  # not a literal: never evaluated
        "{{ os.system(cmd='true') }}",
        "{{ mha_params(d_model=512 }}",
        "{{ mha_params(d_model=512, n_heads=7) }}",  # the core refuses the split
    ],
)
def test_bad_placeholders_raise_and_render_as_na(placeholder):
    with pytest.raises(PlaceholderError):
        resolve_value(placeholder)
    rendered, errors = render_placeholders(f"x {placeholder} y")
    assert rendered == "x n/a y" and len(errors) == 1


def test_placeholder_formats():
    assert format_value(1050624) == "1,050,624"
    assert format_value(2 * 2**30, "bytes") == "2.00 GiB"
    assert format_value(0.123456, ".2f") == "0.12"
    assert format_value(22.627, "") == "22.63"
    assert render_placeholders("{{ alibi_slope(n_heads=8, head=7) | .8f }}")[0] == "0.00390625"
    with pytest.raises(PlaceholderError):
        format_value(1.0, "zz")
    assert set(RESOLVERS) >= {"mha_params", "kv_cache_bytes", "attention_matrix_bytes"}
    assert PLACEHOLDER.fullmatch("{{ mha_params(d_model=8, n_heads=2) }}")


# ---------------------------------------------------------------- grading


def test_numeric_grading_tolerance_and_typed_numbers():
    question = next(q for x, q in QUESTIONS if q.id == "params_512_8")
    assert check_answer(question, parse_number("1,050,624")).correct
    assert not check_answer(question, parse_number("1048576")).correct  # forgot the biases
    assert not check_answer(question, None).correct
    approx = next(q for x, q in QUESTIONS if q.id == "measured_std")
    assert approx.tolerance == 0.1 and check_answer(approx, math.sqrt(512)).correct
    assert parse_number("  ") is None and parse_number("2.5e9") == 2.5e9 and parse_number("1 024") == 1024
    for bad in ("twelve", "nan", "inf", "1,2,3x"):
        with pytest.raises(ValueError):
            parse_number(bad)


# ---------------------------------------------------------------- progress files


def test_progress_round_trip_and_section_counts():
    progress = empty_progress()
    set_read(progress, "06_multi_head", True)
    record_answer(progress, "06_multi_head", "params_512_8", True)
    record_answer(progress, "06_multi_head", "d_k", False)
    restored = progress_from_json(progress_to_json(progress).encode(), LESSONS)
    assert restored == progress
    rows = {r.section: r for r in section_progress(restored, LESSONS, SECTIONS)}
    heads = rows["Multi-head & positions"]
    assert (heads.read, heads.correct) == (1, 1) and heads.lessons == 2 and 0 < heads.fraction < 1
    assert rows["Foundations"].fraction == 0
    assert set(rows) == set(SECTIONS)


def test_progress_drops_unknown_lessons_and_questions():
    data = {"version": 1, "lessons": {"nope": {"read": True}, "06_multi_head": {"read": True, "quiz": {"zz": True}}}}
    clean = validate_progress(data, LESSONS)
    assert clean["lessons"] == {"06_multi_head": {"read": True, "quiz": {}}}


@pytest.mark.parametrize(
    "raw",
    [
        b"not json at all",
        b"\xff\xfe\x00",
        b"[]",
        b'{"lessons": {}}',
        b'{"version": 2, "lessons": {}}',
        b'{"version": 1, "lessons": []}',
        b'{"version": 1, "lessons": {"06_multi_head": {"read": "yes"}}}',
        b'{"version": 1, "lessons": {"06_multi_head": {"read": true, "quiz": {"d_k": 1}}}}',
        b'{"version": 1, "lessons": {"06_multi_head": 5}}',
        b" " * 1_000_001,
    ],
)
def test_bad_progress_files_raise_progress_error_only(raw):
    with pytest.raises(ProgressError):
        progress_from_json(raw, LESSONS)


# ---------------------------------------------------------------- search


def test_search_finds_lessons_by_title_and_text():
    hits = search_lessons("KV cache")
    assert {h.lesson.id for h in hits[:2]} == {"11_inference", "14_kv_cache_gqa"}  # "KV cache" in both titles
    assert all(h.page_slug == h.lesson.page for h in hits)
    rope = search_lessons("rope")
    assert rope[0].lesson.id == "07_positional_encodings" and "rope" in rope[0].snippet.lower()
    assert search_lessons("Bahdanau")[0].lesson.id == "01_why_attention"
    assert search_lessons("") == [] and search_lessons("   ") == [] and search_lessons("zzqqxx") == []


def test_snippets_are_plain_text_and_escaping_neutralises_markup():
    for hit in search_lessons("softmax"):
        assert "$" not in hit.snippet and "{{" not in hit.snippet and "```" not in hit.snippet
    assert plain_text("a $x^2$ b **c** {{ mha_params(d_model=8, n_heads=2) }}") == "a x^2 b c …"
    assert plain_text(r"cost $O(n \sqrt{n}\, d_k)$, _emph_ $$\frac{a}{b}$$") == "cost O(n √n d_k), emph …"
    escaped = escape_markdown("<script>alert(1)</script> *bold* $x$ [link](javascript:x)")
    assert "<script>" not in escaped and "\\*bold\\*" in escaped and "\\$x\\$" in escaped and "\\[link\\]" in escaped
    assert search_lessons("<script>alert(1)</script>") == []

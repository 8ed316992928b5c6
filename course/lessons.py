"""Lessons: parse `lessons/*.md`, resolve their live numbers, search them.

A lesson file is JSON front matter between two `---` lines, then Markdown (with `$...$` / `$$...$$` math):

    ---
    {"title": "...", "section": "Foundations", "order": 2, "page": "<registry slug>",
     "objectives": ["..."], "prerequisites": ["01_why_attention"], "code": ["core.attention.attention"],
     "quiz": [{"id": "q1", "kind": "mc", "prompt": "...", "options": ["a", "b"], "answer": 1,
               "explanation": "..."},
              {"id": "q2", "kind": "numeric", "prompt": "...", "answer": "{{ mha_params(d_model=512, n_heads=8) }}",
               "tolerance": 0, "explanation": "..."}]}
    ---
    Markdown body ...

Numbers about the model are never typed in: a placeholder `{{ name(k=v, ...) }}` or `{{ name(k=v) | spec }}`
calls one of the whitelisted `RESOLVERS` (which build the real core object and measure it). Placeholders are
parsed with `ast`, keyword values must be literals: nothing is ever evaluated.

Pure Python: torch and `core` are imported lazily inside the resolvers, so parsing and search need neither.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from course.registry import ROOT, SECTIONS

LESSONS_DIR = ROOT / "lessons"
QUESTION_KINDS = ("mc", "numeric")
PLACEHOLDER = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)


class LessonError(ValueError):
    """A lesson file that does not follow the format (the message names the file and what is wrong)."""


class PlaceholderError(ValueError):
    """A placeholder that is malformed, names an unknown resolver, or whose resolver failed."""


@dataclass(frozen=True)
class Question:
    """One predict-then-check question. `answer`: option index (mc) or a number / placeholder (numeric)."""

    id: str
    kind: str
    prompt: str
    answer: int | float | str
    explanation: str
    options: tuple[str, ...] = ()
    tolerance: float = 0.0  # numeric only: accepted relative error (0 = exact up to rounding)
    unit: str = ""


@dataclass(frozen=True)
class Lesson:
    """One parsed lesson file; `id` is the file stem (e.g. ``02_scaled_dot_product``)."""

    id: str
    path: Path
    title: str
    section: str
    order: int
    page: str
    objectives: tuple[str, ...]
    prerequisites: tuple[str, ...]
    code: tuple[str, ...]
    quiz: tuple[Question, ...]
    body: str = field(repr=False)
    short_title: str = ""  # tab label when a page shows several lessons (defaults to the title)

    @property
    def word_count(self) -> int:
        """Words of prose (math, code and markup stripped)."""
        return len(re.findall(r"[A-Za-z0-9][A-Za-z0-9'’-]*", plain_text(self.body)))


@dataclass(frozen=True)
class SearchHit:
    lesson: Lesson
    snippet: str  # plain text (markdown and math markers stripped); escape it before rendering as markdown
    page_slug: str


# ---------------------------------------------------------------- parsing


def _split_front_matter(text: str, name: str) -> tuple[dict[str, Any], str]:
    lines = text.splitlines()
    if not lines or lines[0].strip() != "---":
        raise LessonError(f"{name}: must start with a '---' line opening the JSON front matter")
    try:
        end = next(i for i in range(1, len(lines)) if lines[i].strip() == "---")
    except StopIteration:
        raise LessonError(f"{name}: front matter is not closed by a second '---' line") from None
    try:
        meta = json.loads("\n".join(lines[1:end]))
    except json.JSONDecodeError as err:
        raise LessonError(f"{name}: front matter is not valid JSON ({err.msg}, line {err.lineno + 1})") from None
    if not isinstance(meta, dict):
        raise LessonError(f"{name}: front matter must be a JSON object")
    return meta, "\n".join(lines[end + 1 :]).strip() + "\n"


def _str_list(meta: dict, key: str, name: str) -> tuple[str, ...]:
    value = meta.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise LessonError(f"{name}: '{key}' must be a list of non-empty strings")
    return tuple(value)


def _parse_question(raw: Any, name: str) -> Question:
    if not isinstance(raw, dict):
        raise LessonError(f"{name}: every quiz entry must be an object")
    qid = raw.get("id")
    where = f"{name}, question {qid!r}"
    if not isinstance(qid, str) or not qid:
        raise LessonError(f"{name}: a quiz question has no 'id'")
    kind = raw.get("kind")
    if kind not in QUESTION_KINDS:
        raise LessonError(f"{where}: 'kind' must be one of {QUESTION_KINDS}")
    for key in ("prompt", "explanation"):
        if not isinstance(raw.get(key), str) or not raw[key].strip():
            raise LessonError(f"{where}: '{key}' must be a non-empty string")
    answer, options = raw.get("answer"), tuple(raw.get("options", ()))
    if kind == "mc":
        if len(options) < 2 or not all(isinstance(o, str) and o for o in options):
            raise LessonError(f"{where}: a multiple-choice question needs at least two text options")
        if not isinstance(answer, int) or isinstance(answer, bool) or not 0 <= answer < len(options):
            raise LessonError(f"{where}: 'answer' must be an option index in 0..{len(options) - 1}")
    elif isinstance(answer, bool) or not isinstance(answer, (int, float, str)):
        raise LessonError(f"{where}: a numeric answer must be a number or a '{{{{ resolver(...) }}}}' placeholder")
    elif isinstance(answer, str) and not PLACEHOLDER.fullmatch(answer.strip()):
        raise LessonError(f"{where}: a text answer must be exactly one placeholder")
    tolerance = raw.get("tolerance", 0.0)
    if isinstance(tolerance, bool) or not isinstance(tolerance, (int, float)) or tolerance < 0:
        raise LessonError(f"{where}: 'tolerance' must be a number >= 0")
    return Question(
        qid, kind, raw["prompt"], answer, raw["explanation"], options, float(tolerance), str(raw.get("unit", ""))
    )


def parse_lesson(text: str, path: Path) -> Lesson:
    """Parse one lesson file's text; raises LessonError naming the file and the problem."""
    name = path.name
    meta, body = _split_front_matter(text, name)
    for key in ("title", "section", "page"):
        if not isinstance(meta.get(key), str) or not meta[key].strip():
            raise LessonError(f"{name}: '{key}' must be a non-empty string")
    if meta["section"] not in SECTIONS:
        raise LessonError(f"{name}: section {meta['section']!r} is not one of {SECTIONS}")
    if not isinstance(meta.get("order"), int):
        raise LessonError(f"{name}: 'order' must be an integer")
    quiz = meta.get("quiz")
    if not isinstance(quiz, list):
        raise LessonError(f"{name}: 'quiz' must be a list of questions")
    questions = tuple(_parse_question(q, name) for q in quiz)
    ids = [q.id for q in questions]
    if len(set(ids)) != len(ids):
        raise LessonError(f"{name}: quiz question ids must be unique, got {ids}")
    return Lesson(
        path.stem,
        path,
        meta["title"],
        meta["section"],
        meta["order"],
        meta["page"],
        _str_list(meta, "objectives", name),
        _str_list(meta, "prerequisites", name),
        _str_list(meta, "code", name),
        questions,
        body,
        str(meta.get("short_title") or meta["title"]),
    )


@cache
def load_lessons(directory: Path = LESSONS_DIR) -> tuple[Lesson, ...]:
    """Every lesson under `directory`, in course order (section, then order)."""
    lessons = [parse_lesson(p.read_text(encoding="utf-8"), p) for p in sorted(directory.glob("*.md"))]
    return tuple(sorted(lessons, key=lambda x: (SECTIONS.index(x.section), x.order, x.id)))


def lessons_for_page(slug: str, extra_lesson_file: str | None = None) -> list[Lesson]:
    """The lessons that belong to page `slug`, plus the registry's lesson file for it if that one points elsewhere."""
    found = [x for x in load_lessons() if x.page == slug or x.path.name == extra_lesson_file]
    return sorted(found, key=lambda x: (x.page != slug, x.order))


def lesson_by_id(lesson_id: str) -> Lesson:
    for lesson in load_lessons():
        if lesson.id == lesson_id:
            return lesson
    raise KeyError(f"no lesson {lesson_id!r}")


# ---------------------------------------------------------------- code names


def resolve_code_name(dotted: str) -> Any:
    """Import `core.module.Object[.attr]`: the longest importable module prefix, then attribute lookups.

    Raises ImportError / AttributeError when the name does not (yet) exist.
    """
    parts = dotted.split(".")
    if parts[0] != "core":
        raise ImportError(f"{dotted!r}: lessons may only show code from core/")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            if cut == 1:
                raise
            continue
        for attr in parts[cut:]:
            obj = getattr(obj, attr)
        return obj
    raise ImportError(dotted)


@cache
def code_source(dotted: str) -> str | None:
    """The source text of core object `dotted` (read once per process with inspect.getsource), or None when the
    name does not (yet) exist or has no readable source. Lessons show it next to the prose."""
    try:
        return inspect.getsource(resolve_code_name(dotted))
    except (ImportError, AttributeError, TypeError, OSError):
        return None


# ---------------------------------------------------------------- placeholders and their resolvers


def _n_params(build: Callable[[], Any]) -> int:
    """Parameters of the module `build()` makes, built on the `meta` device (real shapes, no memory, instant)."""
    import torch

    with torch.device("meta"):
        module = build()
    return sum(p.numel() for p in module.parameters())


def mha_params(d_model: int, n_heads: int, n_kv_heads: int | None = None, bias: bool = True) -> int:
    """Parameters of core.multihead.MultiHeadAttention (W_Q, W_K, W_V, W_O and their biases)."""
    from core.multihead import MultiHeadAttention

    return _n_params(lambda: MultiHeadAttention(d_model, n_heads, n_kv_heads=n_kv_heads, bias=bias))


def ffn_params(d_model: int, d_ff: int, activation: str = "relu", bias: bool = True) -> int:
    """Parameters of core.blocks.FeedForward."""
    from core.blocks import FeedForward

    return _n_params(lambda: FeedForward(d_model, d_ff, activation=activation, bias=bias))


def moe_ffn_params(d_model: int, d_ff: int, n_experts: int, activation: str = "swiglu", bias: bool = False) -> int:
    """Parameters of `n_experts` core.blocks.FeedForward experts (the router's few numbers left out)."""
    return n_experts * ffn_params(d_model, d_ff, activation, bias)


def mha_weight_bytes(d_model: int, n_heads: int, bits: int, n_kv_heads: int | None = None) -> float:
    """Bytes of a bias-free core MultiHeadAttention's weights stored at `bits` bits per parameter."""
    return mha_params(d_model, n_heads, n_kv_heads=n_kv_heads, bias=False) * bits / 8


def lora_params(d_in: int, d_out: int, rank: int) -> int:
    """Trainable parameters of a LoRA update B·A: B (d_out × rank) and A (rank × d_in), built as real tensors."""
    import torch

    b, a = torch.empty(d_out, rank, device="meta"), torch.empty(rank, d_in, device="meta")
    return b.numel() + a.numel()


def decoder_model_params(vocab_size: int, d_model: int, n_heads: int, n_layers: int, d_ff: int, **config: Any) -> int:
    """core.models.count_parameters of a DecoderOnlyModel built from a DecoderConfig (tied weights counted once)."""
    from core.models import DecoderConfig, DecoderOnlyModel, count_parameters

    cfg = DecoderConfig(vocab_size=vocab_size, d_model=d_model, n_heads=n_heads, n_layers=n_layers, d_ff=d_ff, **config)
    import torch

    with torch.device("meta"):
        model = DecoderOnlyModel(cfg)
    return count_parameters(model)["total"]


def attention_matrix_bytes(seq_len: int, n_heads: int = 1, batch: int = 1, dtype: str = "float32") -> int:
    """Bytes of the (B, H, n, n) score tensor core.attention.attention_scores produces for n tokens.

    Runs on `meta` tensors: the real shapes and dtype, no memory allocated.
    """
    import torch

    from core.attention import attention_scores

    q = torch.empty(batch, n_heads, seq_len, 8, dtype=getattr(torch, dtype), device="meta")  # (B, H, n, d_k)
    scores = attention_scores(q, q)  # (B, H, n, n)
    return scores.numel() * scores.element_size()


def attention_peak_bytes(path: str, seq_len: int, n_heads: int, d_head: int, batch: int = 1) -> int:
    """Peak bytes core.measure.memory predicts for one float32 attention call: path "naive" or "tiled" (default blocks)."""
    from core.measure.memory import predicted_naive_peak_bytes, predicted_tiled_peak_bytes

    predict = {"naive": predicted_naive_peak_bytes, "tiled": predicted_tiled_peak_bytes}[path]
    return predict(batch, n_heads, seq_len, seq_len, d_head)


def vit_tokens(image_size: int, patch_size: int, cls_token: bool = True) -> int:
    """Sequence length of core.vit: the ViTConfig's patch count, plus one for [CLS]."""
    from core.vit import ViTConfig

    return ViTConfig(image_size=image_size, patch_size=patch_size).n_patches + int(cls_token)


def patch_embedding_params(patch_size: int, d_model: int, channels: int = 3) -> int:
    """Parameters of core.vit.PatchEmbedding (one linear map C·p·p -> d_model, with bias)."""
    from core.vit import PatchEmbedding

    return _n_params(lambda: PatchEmbedding(patch_size, d_model, channels))


def layernorm_params(d_model: int) -> int:
    """Parameters of core.blocks.LayerNorm (gain and bias)."""
    from core.blocks import LayerNorm

    return _n_params(lambda: LayerNorm(d_model))


def encoder_layer_params(d_model: int, n_heads: int, d_ff: int) -> int:
    """Parameters of one core.blocks.EncoderLayer."""
    from core.blocks import EncoderLayer

    return _n_params(lambda: EncoderLayer(d_model, n_heads, d_ff))


def decoder_layer_params(d_model: int, n_heads: int, d_ff: int) -> int:
    """Parameters of one core.blocks.DecoderLayer (self-attention, cross-attention, FFN, three norms)."""
    from core.blocks import DecoderLayer

    return _n_params(lambda: DecoderLayer(d_model, n_heads, d_ff))


def _random_qk(d_k: int, n_q: int, n_k: int, seed: int) -> tuple[Any, Any]:
    import torch

    gen = torch.Generator().manual_seed(seed)
    return torch.randn(n_q, d_k, generator=gen), torch.randn(n_k, d_k, generator=gen)  # unit-variance entries


def dot_product_std(d_k: int, scaled: bool = False, n: int = 96, seed: int = 0) -> float:
    """Measured std of the n×n scores core.attention.attention computes for random unit-variance q, k."""
    from core.attention import attention

    q, k = _random_qk(d_k, n, n, seed)
    trace = attention(q, k, k, scoring="scaled_dot")
    return float((trace.scaled_scores if scaled else trace.raw_scores).std())


def softmax_peak(d_k: int, n_keys: int, scaled: bool = False, n_queries: int = 512, seed: int = 0) -> float:
    """Mean over random queries of the largest softmax weight in a row (1/n_keys = flat, 1 = one-hot)."""
    from core.attention import attention

    q, k = _random_qk(d_k, n_queries, n_keys, seed)
    trace = attention(q, k, k, scoring="scaled_dot" if scaled else "dot")
    return float(trace.weights.max(dim=-1).values.mean())


def kv_cache_bytes(
    n_layers: int, n_kv_heads: int, d_head: int, seq_len: int, batch: int = 1, dtype: str = "float16"
) -> int:
    """Bytes a core.multihead.KVCache holds for one layer's (B, H_kv, T, d_head) keys and values, × n_layers.

    The tensors live on the `meta` device: real shapes and dtypes, no memory allocated.
    """
    import torch

    from core.multihead import KVCache

    shape = (batch, n_kv_heads, seq_len, d_head)  # (B, H_kv, T, d_k)
    cache = KVCache()
    cache.append(
        torch.empty(shape, dtype=getattr(torch, dtype), device="meta"),
        torch.empty(shape, dtype=getattr(torch, dtype), device="meta"),
    )
    return n_layers * cache.nbytes


def alibi_slope(n_heads: int, head: int = 0) -> float:
    """The ALiBi slope core.positional.alibi_slopes gives head `head` (0-based) of `n_heads`."""
    from core.positional import alibi_slopes

    return float(alibi_slopes(n_heads)[head])


RESOLVERS: dict[str, Callable[..., int | float]] = {
    "dot_product_std": dot_product_std,
    "softmax_peak": softmax_peak,
    "kv_cache_bytes": kv_cache_bytes,
    "alibi_slope": alibi_slope,
    "moe_ffn_params": moe_ffn_params,
    "mha_weight_bytes": mha_weight_bytes,
    "lora_params": lora_params,
    "decoder_model_params": decoder_model_params,
    "attention_matrix_bytes": attention_matrix_bytes,
    "attention_peak_bytes": attention_peak_bytes,
    "vit_tokens": vit_tokens,
    "patch_embedding_params": patch_embedding_params,
    "mha_params": mha_params,
    "ffn_params": ffn_params,
    "layernorm_params": layernorm_params,
    "encoder_layer_params": encoder_layer_params,
    "decoder_layer_params": decoder_layer_params,
}


def _parse_placeholder(inner: str) -> tuple[str, dict[str, Any], str]:
    expr, _, spec = inner.partition("|")
    try:
        call = ast.parse(expr.strip(), mode="eval").body
    except SyntaxError:
        raise PlaceholderError(f"not a call: {expr.strip()!r}") from None
    if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name)) or call.args:
        raise PlaceholderError(f"expected name(key=value, ...), got {expr.strip()!r}")
    if call.func.id not in RESOLVERS:
        raise PlaceholderError(f"unknown resolver {call.func.id!r}; known: {sorted(RESOLVERS)}")
    try:
        kwargs = {kw.arg: ast.literal_eval(kw.value) for kw in call.keywords if kw.arg}
    except ValueError:
        raise PlaceholderError(f"arguments must be literals in {expr.strip()!r}") from None
    return call.func.id, kwargs, spec.strip()


@cache
def _call(name: str, frozen_kwargs: tuple[tuple[str, Any], ...]) -> int | float:
    return RESOLVERS[name](**dict(frozen_kwargs))


def resolve_value(placeholder: str) -> int | float:
    """The number a single `{{ ... }}` placeholder stands for (raises PlaceholderError)."""
    match = PLACEHOLDER.fullmatch(placeholder.strip())
    if not match:
        raise PlaceholderError(f"not a placeholder: {placeholder!r}")
    name, kwargs, _ = _parse_placeholder(match.group(1))
    try:
        return _call(name, tuple(sorted(kwargs.items())))
    except Exception as err:  # a resolver that cannot run yet (core missing) or got bad arguments
        raise PlaceholderError(f"{name}({kwargs}) failed: {type(err).__name__}: {err}") from err


def format_value(value: int | float, spec: str = "") -> str:
    """Format a resolved number: `bytes` → binary units, else a Python format spec (default: thousands commas)."""
    if spec == "bytes":
        for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
            if abs(value) >= size:
                return f"{value / size:,.2f} {unit}"
        return f"{value:,.0f} B"
    if not spec:
        spec = "," if float(value).is_integer() else ",.4g"
        value = int(value) if float(value).is_integer() else value
    try:
        return format(value, spec)
    except ValueError:
        raise PlaceholderError(f"bad format spec {spec!r}") from None


def render_placeholders(text: str, resolve: Callable[[str], int | float] = resolve_value) -> tuple[str, list[str]]:
    """Replace every placeholder in `text`; a failing one becomes 'n/a' and its message is returned."""
    errors: list[str] = []

    def substitute(match: re.Match) -> str:
        try:
            _, _, spec = _parse_placeholder(match.group(1))
            return format_value(resolve(match.group(0)), spec)
        except PlaceholderError as err:
            errors.append(str(err))
            return "n/a"

    return PLACEHOLDER.sub(substitute, text), errors


def demote_headings(markdown: str, levels: int = 2) -> str:
    """Shift Markdown headings down (## → ####) so a lesson's sections sit below its title on the page."""
    return re.sub(r"^(#{1,6}) ", lambda m: "#" * min(6, len(m.group(1)) + levels) + " ", markdown, flags=re.MULTILINE)


def placeholders_in(lesson: Lesson) -> list[str]:
    """Every placeholder in a lesson: body, objectives, prompts, options, explanations, numeric answers."""
    texts = [lesson.body, *lesson.objectives]
    for q in lesson.quiz:
        texts += [q.prompt, q.explanation, *q.options, q.answer if isinstance(q.answer, str) else ""]
    return [m.group(0) for t in texts for m in PLACEHOLDER.finditer(t)]


# ---------------------------------------------------------------- search


_TEX_WORDS = {
    r"\sqrt": "√",
    r"\cdot": "·",
    r"\times": "×",
    r"\log": "log",
    r"\approx": "≈",
    r"\le": "≤",
    r"\ge": "≥",
    r"\infty": "∞",
    r"\top": "ᵀ",
    r"\to": "→",
    r"\ll": "≪",
    r"\alpha": "α",
    r"\varepsilon": "ε",
    r"\ell": "ℓ",
    r"\dots": "…",
    r"\tanh": "tanh",
    r"\exp": "exp",
    r"\max": "max",
    r"\sum": "Σ",
}


def _inline_math_as_text(match: re.Match) -> str:
    tex = match.group(1)
    for command, symbol in _TEX_WORDS.items():
        tex = re.sub(re.escape(command) + r"(?![A-Za-z])", symbol, tex)
    tex = re.sub(r"\\[A-Za-z]+|\\.", " ", tex)  # any other command or spacing macro
    return re.sub(r"[{}]", "", tex)


def plain_text(markdown: str) -> str:
    """Markdown → plain text for search and snippets: inline math as rough text, display math, code fences,
    markup and placeholders dropped."""
    text = re.sub(r"```.*?```", " ", markdown, flags=re.DOTALL)
    text = re.sub(r"\$\$.*?\$\$", " … ", text, flags=re.DOTALL)
    text = re.sub(r"\$([^$\n]+)\$", _inline_math_as_text, text)
    text = PLACEHOLDER.sub(" … ", text)
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)  # links → their text
    text = re.sub(r"^\s*(?:[-*]|\d+\.)\s+", " ", text, flags=re.MULTILINE)  # list markers
    text = re.sub(r"[#*`>|]|(?<!\w)_|_(?!\w)", " ", text)  # markup; d_k keeps its underscore
    return re.sub(r"\s+", " ", text).strip()


def _snippet(text: str, terms: list[str], width: int = 180) -> str:
    """About `width` characters of `text` around the first query term, cut at word boundaries."""
    lowered = text.lower()
    first = lowered.find(terms[0])
    hit = first if first >= 0 else min((i for t in terms if (i := lowered.find(t)) >= 0), default=0)
    start = max(0, hit - width // 3)
    if start > 0:
        start = text.find(" ", start) + 1 or start  # do not begin mid-word
    stop = min(len(text), start + width)
    if stop < len(text):
        stop = text.rfind(" ", start, stop) if text.rfind(" ", start, stop) > hit else stop
    return ("…" if start > 0 else "") + text[start:stop].strip() + ("…" if stop < len(text) else "")


def search_lessons(query: str, lessons: tuple[Lesson, ...] | None = None) -> list[SearchHit]:
    """Lessons whose title, objectives or text contain every word of `query` (case-insensitive), best first.

    Title matches rank above body matches; the snippet is plain text around the first match.
    """
    terms = [t for t in re.findall(r"\w+", query.lower()) if len(t) > 1]
    if not terms:
        return []
    scored = []
    for lesson in lessons if lessons is not None else load_lessons():
        text = plain_text(lesson.body)
        haystack = " ".join([lesson.title, *lesson.objectives, text]).lower()
        if not all(t in haystack for t in terms):
            continue
        score = sum(10 * lesson.title.lower().count(t) + haystack.count(t) for t in terms)
        scored.append((-score, lesson.order, SearchHit(lesson, _snippet(text, terms), lesson.page)))
    return [hit for *_, hit in sorted(scored, key=lambda s: s[:2])]


def escape_markdown(text: str) -> str:
    """Backslash-escape Markdown and math markers so text shows literally in st.markdown / st.caption."""
    return re.sub(r"([\\`*_{}\[\]()#+\-.!|>~$<])", r"\\\1", text)


def lessons_by_section(lessons: tuple[Lesson, ...] | None = None) -> Mapping[str, list[Lesson]]:
    """Lessons grouped by section, in SECTIONS order (empty sections kept)."""
    grouped: dict[str, list[Lesson]] = {s: [] for s in SECTIONS}
    for lesson in lessons if lessons is not None else load_lessons():
        grouped[lesson.section].append(lesson)
    return grouped

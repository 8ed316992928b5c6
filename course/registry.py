"""One registry of the course: every page, its section, order, icon, lesson file and page module.

Adding a page is one `PageEntry` here plus one file under `pages/<section>/`. The router (`app.py`), the home page's
course map and the registry-wide tests all read `PAGES`, so a page added here is routed, listed and tested.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

SECTIONS: tuple[str, ...] = (
    "Foundations",
    "Multi-head & positions",
    "Architectures",
    "Training & generation",
    "Efficiency",
    "Beyond text",
)


@dataclass(frozen=True)
class PageEntry:
    """One page of the course.

    slug: URL path (``/slug``) and the key lessons use to point at the page.
    section: one of ``SECTIONS``. order: position inside the section (ascending).
    lesson: file name under ``lessons/`` holding the page's main lesson.
    module: path of the page script relative to the repository root.
    summary: one line shown on the course map.
    """

    slug: str
    section: str
    title: str
    icon: str
    order: int
    lesson: str
    module: str
    summary: str

    @property
    def module_path(self) -> Path:
        return ROOT / self.module

    @property
    def lesson_path(self) -> Path:
        return ROOT / "lessons" / self.lesson


# Page scripts live in per-section folders, never directly in pages/: Streamlit treats top-level pages/*.py as a
# legacy multipage app and would run such a page without app.py (no router, no settings) on a cold first request.
HOME_MODULE = "pages/start/home.py"

# Pages are listed here only once their file exists: the course map never shows a placeholder.
_ENTRIES: tuple[PageEntry, ...] = (
    PageEntry(
        slug="tokens_and_embeddings",
        section="Foundations",
        title="Tokens and embeddings",
        icon="🔤",
        order=5,
        lesson="00_tokens_and_embeddings.md",
        module="pages/foundations/tokens_and_embeddings.py",
        summary="Your text split by BPE merge by merge, token ids, nearest neighbours in a trained embedding matrix, "
        "and one word's vector in two sentences, layer by layer.",
    ),
    PageEntry(
        slug="attention_step_by_step",
        section="Foundations",
        title="Attention, step by step",
        icon="🔎",
        order=10,
        lesson="02_scaled_dot_product.md",
        module="pages/foundations/attention_step_by_step.py",
        summary="Type a sentence and follow it through Q, K, V, scores, ÷√d_k, mask, softmax and the weighted sum.",
    ),
    PageEntry(
        slug="why_sqrt_dk",
        section="Foundations",
        title="Why divide by √d_k",
        icon="📏",
        order=20,
        lesson="03_why_sqrt_dk.md",
        module="pages/foundations/why_sqrt_dk.py",
        summary="Watch dot products spread and softmax saturate as d_k grows, with and without the scale.",
    ),
    PageEntry(
        slug="scoring_functions",
        section="Foundations",
        title="Scoring functions",
        icon="⚖️",
        order=30,
        lesson="04_scoring_functions.md",
        module="pages/foundations/scoring_functions.py",
        summary="Dot, scaled dot, additive (Bahdanau) and multiplicative (Luong) scores on the same inputs.",
    ),
    PageEntry(
        slug="masks",
        section="Foundations",
        title="Self, cross and causal attention",
        icon="🎭",
        order=40,
        lesson="05_masks.md",
        module="pages/foundations/masks.py",
        summary="A gallery of masks (causal, padding, sliding window, prefix-LM, cross) and what each does to the weights.",
    ),
    PageEntry(
        slug="multi_head",
        section="Multi-head & positions",
        title="Multi-head attention",
        icon="🧠",
        order=10,
        lesson="06_multi_head.md",
        module="pages/multihead_positions/multi_head.py",
        summary="A trained GPT's heads on your sentence and what each head does; then build H heads yourself and count W_O.",
    ),
    PageEntry(
        slug="positional_encodings",
        section="Multi-head & positions",
        title="Positional encodings",
        icon="📍",
        order=20,
        lesson="07_positional_encodings.md",
        module="pages/multihead_positions/positional_encodings.py",
        summary="Sinusoidal, learned, RoPE, ALiBi and relative bias — and why attention needs them at all.",
    ),
    PageEntry(
        slug="transformer_block",
        section="Architectures",
        title="The transformer block",
        icon="🧱",
        order=10,
        lesson="08_transformer_block.md",
        module="pages/architectures/transformer_block.py",
        summary="The residual stream through encoder and decoder layers: norms, FFNs, pre-LN vs post-LN.",
    ),
    PageEntry(
        slug="architecture_families",
        section="Architectures",
        title="Encoder, decoder, encoder-decoder",
        icon="🏛️",
        order=20,
        lesson="09_architecture_families.md",
        module="pages/architectures/architecture_families.py",
        summary="BERT-, GPT- and T5-style models side by side, each with a live trained example.",
    ),
    PageEntry(
        slug="train_it_yourself",
        section="Training & generation",
        title="Train it yourself",
        icon="🏋️",
        order=10,
        lesson="10_training.md",
        module="pages/training/train_it_yourself.py",
        summary="Train a tiny transformer in your browser session and watch its attention pattern form.",
    ),
    PageEntry(
        slug="model_explorer",
        section="Training & generation",
        title="Model explorer",
        icon="🔬",
        order=20,
        lesson="10_training.md",
        module="pages/training/model_explorer.py",
        summary="Type English (or a task input): a trained model's predictions, every layer × head, and each head's role.",
    ),
    PageEntry(
        slug="generation",
        section="Training & generation",
        title="Generation and sampling",
        icon="✍️",
        order=30,
        lesson="11_inference.md",
        module="pages/training/generation.py",
        summary="A trained GPT continues your prompt token by token: temperature, top-k and top-p cut drawn, and the KV cache.",
    ),
    PageEntry(
        slug="fill_in_the_blank",
        section="Training & generation",
        title="Fill in the blank",
        icon="🧩",
        order=40,
        lesson="19_fill_in_the_blank.md",
        module="pages/training/fill_in_the_blank.py",
        summary="Type a sentence with [MASK]: the English BERT's top guesses and where the [MASK] looks in every layer.",
    ),
    PageEntry(
        slug="quadratic_memory",
        section="Efficiency",
        title="Why attention is O(n²)",
        icon="📈",
        order=10,
        lesson="12_complexity_flash.md",
        module="pages/efficiency/quadratic_memory.py",
        summary="Measured peak memory and time of naive vs tiled vs SDPA attention on your device.",
    ),
    PageEntry(
        slug="flash_attention",
        section="Efficiency",
        title="FlashAttention, step by step",
        icon="⚡",
        order=20,
        lesson="12_complexity_flash.md",
        module="pages/efficiency/flash_attention.py",
        summary="Step through the tiles of the online softmax: running max, running sum, rescaled output.",
    ),
    PageEntry(
        slug="efficient_variants",
        section="Efficiency",
        title="Efficient attention variants",
        icon="🧮",
        order=30,
        lesson="13_efficient_variants.md",
        module="pages/efficiency/efficient_variants.py",
        summary="Sliding window, sparse, Longformer, linear, Linformer and LSH: patterns, error and cost.",
    ),
    PageEntry(
        slug="kv_cache",
        section="Efficiency",
        title="KV cache, MQA and GQA",
        icon="🗄️",
        order=40,
        lesson="14_kv_cache_gqa.md",
        module="pages/efficiency/kv_cache.py",
        summary="Cache bytes from the formula and from real tensors; what GQA and MQA save for real models.",
    ),
    PageEntry(
        slug="vision_transformer",
        section="Beyond text",
        title="Vision Transformers",
        icon="🖼️",
        order=10,
        lesson="15_vision_transformers.md",
        module="pages/beyond_text/vision_transformer.py",
        summary="Split an image into patches, add [CLS] and positions, and see where attention looks.",
    ),
)


PAGES: tuple[PageEntry, ...] = tuple(sorted(_ENTRIES, key=lambda e: (SECTIONS.index(e.section), e.order)))


def pages_in_section(section: str) -> list[PageEntry]:
    """The registered pages of one section, in course order."""
    return [p for p in PAGES if p.section == section]


def page_by_slug(slug: str) -> PageEntry:
    """The registered page with this slug (KeyError if none)."""
    for page in PAGES:
        if page.slug == slug:
            return page
    raise KeyError(f"no page with slug {slug!r}; known: {[p.slug for p in PAGES]}")

"""One entry point for every text model: :func:`load_text_model` returns a :class:`TextModel`.

    tm = load_text_model("english-gpt")            # a shipped model by name (models/<name>.json + .safetensors)
    ids = tm.tokenizer.encode("the cat sat")       # list[int]
    out = tm.model(torch.tensor([ids]), return_trace=True)
    out.logits                                     # (1, T, V)
    out.trace[l].self_attn.weights                 # (1, H, T, T): layer l's attention, every head

Every tokenizer a text model carries follows :class:`TextTokenizer` (encode, decode, the token strings a learner
sees, and the ids of the special tokens it has). The shipped task models read one character per token
(:class:`CharTokenizer`); the English models read byte-level BPE (:mod:`core.tokenizer`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

from torch import nn

Kind = Literal["decoder", "encoder", "encoder-decoder"]


@runtime_checkable
class TextTokenizer(Protocol):
    """What every text model's tokenizer offers.

    encode(text) -> ids; decode(ids) -> text; tokens(text) -> the token strings, one per id, as a learner should
    read them (bytes shown as text, a leading space kept). ``special_ids`` maps names such as "mask", "cls", "sep",
    "pad" to ids (empty when the tokenizer has none).
    """

    vocab_size: int
    special_ids: dict[str, int]

    def encode(self, text: str) -> list[int]: ...

    def decode(self, ids: list[int]) -> str: ...

    def tokens(self, text: str) -> list[str]: ...


@dataclass(frozen=True)
class TextModel:
    """A loaded text model: its module (eval mode), tokenizer, card and family.

    kind: "decoder" (causal LM: ``model(ids)``), "encoder" (masked LM: ``model(ids)``) or "encoder-decoder"
    (``model(src, tgt_in)``). max_len: the longest sequence its positions cover. card: what the model's JSON card
    says (training data, held-out numbers, ...); ``card["name"]`` is the name a learner sees.
    """

    name: str
    kind: Kind
    model: nn.Module
    tokenizer: TextTokenizer
    max_len: int
    card: dict[str, Any] = field(default_factory=dict)

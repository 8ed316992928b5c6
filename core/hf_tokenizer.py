"""The tokenizer of a Hugging Face model folder, as a :class:`~core.text_model.TextTokenizer`.

    GPT-2:          vocab.json + merges.txt -> our own :class:`core.tokenizer.ByteLevelBPE` (the one the lessons explain)
    anything else:  tokenizer.json (Llama, Mistral, BERT, ...) or BERT's WordPiece vocab.txt -> the `tokenizers`
                    library, wrapped by :class:`LibraryTokenizer` (writing our own WordPiece would teach nothing new)

Ids never include the special tokens the library would add ([CLS] ... [SEP], <s>): the caller frames the text
(:func:`core.text_model.frame_ids`), as for our own models. ``special_ids`` names the special tokens the folder's
tokenizer_config.json / special_tokens_map.json declare ("mask", "cls", "sep", "pad", "unk", "bos", "eos"), and
the usual ones found in the vocabulary ("[MASK]", "<|endoftext|>" = "eot", ...).
"""

from __future__ import annotations

import json
from pathlib import Path

from tokenizers import BertWordPieceTokenizer, Tokenizer

from core.tokenizer import ByteLevelBPE, readable

# Special tokens recognised by their text when no tokenizer_config.json names them.
KNOWN_SPECIALS: dict[str, str] = {
    "[MASK]": "mask", "[CLS]": "cls", "[SEP]": "sep", "[PAD]": "pad", "[UNK]": "unk", "<s>": "bos", "</s>": "eos",
    "<unk>": "unk", "<|endoftext|>": "eot", "<|begin_of_text|>": "bos", "<|end_of_text|>": "eos",
}  # fmt: skip


def _declared_specials(folder: Path) -> dict[str, str]:
    """name -> token text from tokenizer_config.json and special_tokens_map.json ("mask_token": "[MASK]" -> "mask")."""
    found: dict[str, str] = {}
    for file in ("tokenizer_config.json", "special_tokens_map.json"):
        try:
            config = json.loads((folder / file).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            continue
        for key, value in config.items() if isinstance(config, dict) else ():
            token = value.get("content") if isinstance(value, dict) else value
            if key.endswith("_token") and isinstance(token, str):
                found.setdefault(key.removesuffix("_token"), token)
    return found


def _lower_case(folder: Path) -> bool:
    """BERT's do_lower_case from tokenizer_config.json (True when it is not there, as for bert-base-uncased)."""
    try:
        config = json.loads((folder / "tokenizer_config.json").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return True
    return bool(config.get("do_lower_case", True)) if isinstance(config, dict) else True


class LibraryTokenizer:
    """A `tokenizers` tokenizer behind the :class:`~core.text_model.TextTokenizer` protocol.

    encode(text) -> ids without added special tokens; decode(ids) -> text, special tokens written out; tokens(text)
    -> one readable string per id: byte-level symbols as text ("Ġthe" -> " the"), SentencePiece's "▁" as a space,
    WordPiece continuations as the library writes them ("##ing").
    """

    def __init__(self, tokenizer: Tokenizer | BertWordPieceTokenizer, specials: dict[str, str]) -> None:
        self.tokenizer = tokenizer
        self.vocab_size = tokenizer.get_vocab_size(with_added_tokens=True)
        vocab = tokenizer.get_vocab(with_added_tokens=True)
        found = {name: token for token, name in reversed(KNOWN_SPECIALS.items()) if token in vocab}  # first wins
        named = {name: token for name, token in (found | specials).items() if token in vocab}
        self.special_ids = {name: vocab[token] for name, token in named.items()}
        self.special_tokens = set(named.values())
        self.byte_level = type(tokenizer.decoder).__name__ == "ByteLevel"

    def encode(self, text: str) -> list[int]:
        return self.tokenizer.encode(text, add_special_tokens=False).ids

    def decode(self, ids: list[int]) -> str:
        return self.tokenizer.decode([int(i) for i in ids], skip_special_tokens=False)

    def readable_token(self, token_id: int) -> str:
        """One id -> the text a learner reads for it."""
        token = self.tokenizer.id_to_token(int(token_id))
        if self.byte_level and token not in self.special_tokens:
            try:
                return readable(token)
            except KeyError:  # an added token written in plain text, not in byte symbols
                return token
        return token.replace("▁", " ")

    def tokens(self, text: str) -> list[str]:
        return [self.readable_token(i) for i in self.encode(text)]


def load_hf_tokenizer(path: Path | str, model_type: str) -> ByteLevelBPE | LibraryTokenizer:
    """The tokenizer of a model folder (see the module docstring); a one-line ValueError when it has none."""
    folder = Path(path)
    vocab_json, merges = folder / "vocab.json", folder / "merges.txt"
    if model_type == "gpt2" and vocab_json.is_file() and merges.is_file():
        return ByteLevelBPE.from_files(vocab_json, merges)
    specials = _declared_specials(folder)
    try:
        if (folder / "tokenizer.json").is_file():
            return LibraryTokenizer(Tokenizer.from_file(str(folder / "tokenizer.json")), specials)
        if model_type == "bert" and (folder / "vocab.txt").is_file():
            wordpiece = BertWordPieceTokenizer(str(folder / "vocab.txt"), lowercase=_lower_case(folder))
            return LibraryTokenizer(wordpiece, specials)
    except Exception as err:  # the library raises its own exception types for a broken file
        raise ValueError(f"{folder.name}: cannot read the tokenizer ({err})") from err
    wanted = {"gpt2": "vocab.json + merges.txt or tokenizer.json", "bert": "tokenizer.json or vocab.txt"}
    raise ValueError(f"{folder.name}: no tokenizer files ({wanted.get(model_type, 'tokenizer.json')} expected; "
                     "a SentencePiece tokenizer.model alone is not read: save the tokenizer with transformers)")  # fmt: skip

"""Text for character-level language models: the poems shipped with chainrule, or a UTF-8 file,
turned into character ids and training windows.

    text = load_text()                          # chainrule/data/texts/poems.txt
    vocab = Vocabulary.of(text)                 # its distinct characters, sorted
    ids = vocab.encode(text)                    # int64 (len(text),)
    X, Y = windows(ids, 64)                     # int64 (n, 64) each: Y is X shifted by one
"""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from chainrule.data.datasets.idx import DatasetError

MAX_TEXT_BYTES = 64_000_000  # far above what a character model trains on in minutes
MAX_VOCABULARY = 10_000  # distinct characters (one output per character)


def load_text(path: str | Path | None = None, max_bytes: int = MAX_TEXT_BYTES) -> str:
    """The text of a UTF-8 file (a byte-order mark skipped), or the shipped poems when path is
    None; DatasetError for a folder, a device, a file over max_bytes, bytes that are not
    UTF-8, or a file with fewer than two characters."""
    if path is None:
        return (resources.files("chainrule.data") / "texts" / "poems.txt").read_text("utf-8")
    try:
        with open(path, "rb") as f:
            mode = os.fstat(f.fileno()).st_mode
            if not stat.S_ISREG(mode):  # /dev/zero would be read forever
                raise DatasetError(f"{path}: not a regular file; give the path of a text file")
            raw = f.read(max_bytes + 1)
    except IsADirectoryError:
        raise DatasetError(f"{path}: a folder, not a text file") from None
    except FileNotFoundError:
        raise DatasetError(f"{path}: no such file") from None
    if len(raw) > max_bytes:
        raise DatasetError(f"{path}: more than {max_bytes:,} bytes; a character model of this "
                           "size trains on a few megabytes at most: give a smaller file")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = raw[:e.start].count(b"\n") + 1
        raise DatasetError(f"{path}, line {line}: not UTF-8 text (byte {raw[e.start]:#04x} at "
                           f"offset {e.start}); save the file as UTF-8") from None
    if "\x00" in text:
        raise DatasetError(f"{path}: holds NUL characters: a binary file, not text")
    if len(text) < 2:
        raise DatasetError(f"{path}: {len(text)} characters; a language model needs a text")
    return text


def digest(text: str) -> str:
    """The SHA-256 of the text's UTF-8 bytes (hex): which text a model was trained on."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Vocabulary:
    """The characters a model knows, each with its id (its index in `chars`)."""

    chars: tuple[str, ...]

    @classmethod
    def of(cls, text: str) -> Vocabulary:
        chars = tuple(sorted(set(text)))
        if len(chars) > MAX_VOCABULARY:
            raise DatasetError(f"the text has {len(chars):,} distinct characters; a character "
                               f"model takes at most {MAX_VOCABULARY:,}")
        return cls(chars)

    def __len__(self) -> int:
        return len(self.chars)

    def unknown(self, text: str) -> list[str]:
        """The characters of text that are not in the vocabulary, in order of appearance."""
        known = set(self.chars)
        return list(dict.fromkeys(c for c in text if c not in known))

    def encode(self, text: str) -> np.ndarray:
        """int64 ids (len(text),); DatasetError naming the characters it does not know."""
        missing = self.unknown(text)
        if missing:
            shown = ", ".join(repr(c) for c in missing[:10])
            more = f" and {len(missing) - 10} more" if len(missing) > 10 else ""
            raise DatasetError(f"characters not in the vocabulary: {shown}{more}")
        index = {c: i for i, c in enumerate(self.chars)}
        return np.fromiter((index[c] for c in text), np.int64, len(text))

    def decode(self, ids: np.ndarray) -> str:
        return "".join(self.chars[int(i)] for i in ids)


def windows(ids: np.ndarray, seq_len: int) -> tuple[np.ndarray, np.ndarray]:
    """Non-overlapping windows of ids: inputs X (n, seq_len) and targets Y (n, seq_len), Y[i, t]
    the character after X[i, t]; n = (len(ids) - 1) // seq_len (the remainder is dropped)."""
    n = max((len(ids) - 1) // seq_len, 0)
    X = ids[:n * seq_len].reshape(n, seq_len)
    Y = ids[1:n * seq_len + 1].reshape(n, seq_len)
    return X, Y

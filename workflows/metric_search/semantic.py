"""Meaning similarity from a static embedding table: numpy only, read from a file shipped with the code.

The table (workflows/data/metric_embeddings.npz) holds one vector per WordPiece token, distilled once
from all-MiniLM-L6-v2 by tools/build_metric_embeddings.py. A text's vector is the mean of its tokens'
vectors, so encoding needs no model at run time: no torch, nothing downloaded, a few microseconds per
question. When the table is missing, search works without it (`load_table` returns None).
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

TABLE_PATH = Path(__file__).parent.parent / "data" / "metric_embeddings.npz"
MAX_WORD_CHARS = 100  # BERT's own limit: longer "words" are unknown
_SPLIT = re.compile(r"[a-z0-9]+")


@dataclass(frozen=True)
class EmbeddingTable:
    ids: dict[str, int]  # WordPiece token -> row
    vectors: np.ndarray  # float32 [tokens, dims]

    def tokens(self, text: str) -> list[int]:
        """WordPiece (uncased BERT): lower case, accents off, words split greedily into known pieces."""
        text = unicodedata.normalize("NFD", text.lower())
        text = "".join(c for c in text if unicodedata.category(c) != "Mn")
        out: list[int] = []
        for word in _SPLIT.findall(text):
            if len(word) > MAX_WORD_CHARS:
                continue
            pieces: list[int] = []
            start = 0
            while start < len(word):
                end = len(word)
                found = None
                while start < end:
                    piece = word[start:end] if start == 0 else "##" + word[start:end]
                    found = self.ids.get(piece)
                    if found is not None:
                        break
                    end -= 1
                if found is None:
                    pieces = []  # as BERT does: a word that cannot be split is unknown, and left out
                    break
                pieces.append(found)
                start = end
            out.extend(pieces)
        return out

    def encode(self, text: str) -> np.ndarray:
        """Unit vector of a text (zeros when none of its words is known)."""
        ids = self.tokens(text)
        if not ids:
            return np.zeros(self.vectors.shape[1], dtype=np.float32)
        vector = self.vectors[ids].mean(axis=0)
        norm = float(np.linalg.norm(vector))
        return vector / norm if norm > 0 else vector

    def encode_many(self, texts: Sequence[str]) -> np.ndarray:
        return np.vstack([self.encode(t) for t in texts]) if texts else np.zeros((0, self.vectors.shape[1]))


_TABLES: dict[Path, EmbeddingTable | None] = {}
_LOCK = threading.Lock()


def load_table(path: Path = TABLE_PATH) -> EmbeddingTable | None:
    """The shipped table, loaded once per process; None when the file is absent or unreadable."""
    with _LOCK:
        if path not in _TABLES:
            _TABLES[path] = _read(path)
        return _TABLES[path]


def _read(path: Path) -> EmbeddingTable | None:
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            tokens = str(data["tokens"]).split("\n")
            vectors = np.asarray(data["vectors"], dtype=np.float32)
    except (OSError, ValueError, KeyError):
        return None
    if len(tokens) != vectors.shape[0]:
        return None
    return EmbeddingTable(ids={t: i for i, t in enumerate(tokens)}, vectors=vectors)

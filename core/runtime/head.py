"""The small trained head on top of frozen embeddings: standardise, one hidden ReLU layer, softmax.

Stored as `head.npz` (numpy arrays, no pickle): mean, scale `[d]`; w1 `[d, h]`, b1 `[h]` (absent for a
linear head); w2 `[h or d, n_labels]`, b2 `[n_labels]`. Python 3.7 syntax; copied verbatim into bundles.
"""

from __future__ import annotations

import io
from typing import Dict, Optional

import numpy as np

HEAD_FILE = "head.npz"


def softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return (e / e.sum(axis=-1, keepdims=True)).astype(np.float32)


class Head:
    """`scores(x float32 [n, d]) -> float32 [n, n_labels]` probabilities."""

    def __init__(self, arrays: Dict[str, np.ndarray]) -> None:
        self.mean = np.asarray(arrays["mean"], np.float32)
        self.scale = np.asarray(arrays["scale"], np.float32)
        self.w1: Optional[np.ndarray] = np.asarray(arrays["w1"], np.float32) if "w1" in arrays else None
        self.b1: Optional[np.ndarray] = np.asarray(arrays["b1"], np.float32) if "b1" in arrays else None
        self.w2 = np.asarray(arrays["w2"], np.float32)
        self.b2 = np.asarray(arrays["b2"], np.float32)
        inner = self.w1.shape[1] if self.w1 is not None else self.mean.size
        if self.w2.shape[0] != inner or (self.w1 is not None and self.w1.shape[0] != self.mean.size):
            raise ValueError("the head's layers do not fit together")

    @property
    def input_size(self) -> int:
        return int(self.mean.size)

    @property
    def n_labels(self) -> int:
        return int(self.b2.size)

    def logits(self, x: np.ndarray) -> np.ndarray:
        z = (np.asarray(x, np.float32) - self.mean) / self.scale
        if self.w1 is not None and self.b1 is not None:
            z = np.maximum(z.dot(self.w1) + self.b1, 0.0)
        return z.dot(self.w2) + self.b2

    def scores(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, np.float32)
        if x.ndim != 2 or x.shape[1] != self.input_size:
            raise ValueError(f"the head takes [n, {self.input_size}] embeddings, got {list(x.shape)}")
        return softmax(self.logits(x))

    def to_bytes(self) -> bytes:
        arrays = {"mean": self.mean, "scale": self.scale, "w2": self.w2, "b2": self.b2}
        if self.w1 is not None and self.b1 is not None:
            arrays.update(w1=self.w1, b1=self.b1)
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)  # type: ignore[arg-type]
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> "Head":
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            return cls({key: npz[key] for key in npz.files})

"""Training the head on frozen embeddings, in numpy: epochs of mini-batch Adam with train and test
accuracy and loss after each, so the live charts work as they do for the small CNN.

The head (`core.runtime.head.Head`): standardise with the training embeddings' mean and spread, one
hidden ReLU layer with dropout, softmax. It trains in well under a second for a classroom project
and needs no TensorFlow.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from core.runtime.head import Head, softmax


@dataclass(frozen=True)
class HeadSettings:
    """The head's shape and regularisation (chosen on bench/accuracy.py)."""

    # Measured on bench/accuracy.py's speech_commands split, mean of 3 seeds: linear 0.958, with
    # 3x the learning rate 0.964, and weight decay 1e-2 0.965; 128 hidden units 0.959.
    hidden: int = 0  # 0: a linear head
    dropout: float = 0.5
    input_dropout: float = 0.1
    input_noise: float = 0.1  # Gaussian noise on the standardised input while training
    weight_decay: float = 1e-2
    learning_rate_scale: float = 3.0  # times TrainSpec.learning_rate (whose default suits the CNN)


@dataclass(frozen=True)
class HeadEpoch:
    epoch: int
    train_accuracy: float
    train_loss: float
    test_accuracy: float
    test_loss: float
    seconds: float


def _metrics(head: Head, x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    if not len(y):
        return float("nan"), float("nan")
    p = head.scores(x)
    picked = np.clip(p[np.arange(len(y)), y], 1e-7, 1)
    return float((p.argmax(axis=1) == y).mean()), float(-np.log(picked).mean())


class Cancelled(Exception):
    """The cancel event was set between two batches."""


def fit_head(x: np.ndarray, y: np.ndarray, test_x: np.ndarray, test_y: np.ndarray, n_classes: int, *,
             epochs: int, batch_size: int, learning_rate: float, seed: int,
             class_weights: np.ndarray | None = None, settings: HeadSettings | None = None,
             on_epoch: Callable[[HeadEpoch], None] | None = None,
             cancel: threading.Event | None = None) -> Head:
    """Train a head on embeddings `x: float32 [n, d]`, targets `y: int [n]` (test split for metrics only)."""
    s = settings or HeadSettings()
    rng = np.random.default_rng(seed)
    x = np.asarray(x, np.float32)
    mean = x.mean(axis=0)
    scale = x.std(axis=0) + 1e-3 * (x.std() + 1e-6)
    z_all = (x - mean) / scale
    d = x.shape[1]
    weights = np.asarray(class_weights if class_weights is not None else np.ones(n_classes), np.float32)
    params: dict[str, np.ndarray] = {}
    if s.hidden:
        params["w1"] = (rng.standard_normal((d, s.hidden)) * math.sqrt(2.0 / d)).astype(np.float32)
        params["b1"] = np.zeros(s.hidden, np.float32)
    inner = s.hidden or d
    params["w2"] = (rng.standard_normal((inner, n_classes)) * math.sqrt(1.0 / inner)).astype(np.float32)
    params["b2"] = np.zeros(n_classes, np.float32)
    m = {k: np.zeros_like(v) for k, v in params.items()}
    v = {k: np.zeros_like(val) for k, val in params.items()}
    steps_per_epoch = max(1, math.ceil(len(x) / batch_size))
    total, step = steps_per_epoch * epochs, 0

    def head() -> Head:
        return Head({"mean": mean, "scale": scale, **params})

    for epoch in range(1, epochs + 1):
        started = time.perf_counter()
        order = rng.permutation(len(x))
        correct, loss_sum = 0, 0.0
        for first in range(0, len(order), batch_size):
            if cancel is not None and cancel.is_set():
                raise Cancelled
            idx = order[first:first + batch_size]
            z, target = z_all[idx], y[idx]
            if s.input_noise:
                z = z + rng.standard_normal(z.shape).astype(np.float32) * s.input_noise
            if s.input_dropout:
                z = z * (rng.random(z.shape) >= s.input_dropout) / (1 - s.input_dropout)
            if s.hidden:
                pre = z @ params["w1"] + params["b1"]
                h = np.maximum(pre, 0)
                keep = (rng.random(h.shape) >= s.dropout) / (1 - s.dropout) if s.dropout else 1.0
                h_drop = h * keep
            else:
                h_drop = z
            probs = softmax(h_drop @ params["w2"] + params["b2"])
            w = weights[target]
            loss_sum += float((-np.log(np.clip(probs[np.arange(len(idx)), target], 1e-7, 1)) * w).sum())
            correct += int((probs.argmax(axis=1) == target).sum())
            grad_logits = probs.copy()
            grad_logits[np.arange(len(idx)), target] -= 1
            grad_logits *= (w / len(idx))[:, None]
            grads = {"w2": h_drop.T @ grad_logits, "b2": grad_logits.sum(axis=0)}
            if s.hidden:
                grad_h = (grad_logits @ params["w2"].T) * keep * (pre > 0)
                grads["w1"] = z.T @ grad_h
                grads["b1"] = grad_h.sum(axis=0)
            step += 1
            cosine = 0.5 * (1 + math.cos(math.pi * min(step, total) / total))
            rate = learning_rate * s.learning_rate_scale * (0.02 + 0.98 * cosine)
            for key, grad in grads.items():
                if key.startswith("w"):
                    grad = grad + s.weight_decay * params[key]
                m[key] = 0.9 * m[key] + 0.1 * grad
                v[key] = 0.999 * v[key] + 0.001 * grad * grad
                m_hat, v_hat = m[key] / (1 - 0.9 ** step), v[key] / (1 - 0.999 ** step)
                params[key] = (params[key] - rate * m_hat / (np.sqrt(v_hat) + 1e-8)).astype(np.float32)
        test_acc, test_loss = _metrics(head(), test_x, test_y)
        if on_epoch is not None:
            on_epoch(HeadEpoch(epoch, correct / len(x), loss_sum / len(x), test_acc, test_loss,
                               time.perf_counter() - started))
    return head()

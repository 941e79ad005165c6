"""A short plain-language reading of training curves and the confusion matrix."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

GAP = 0.15  # train accuracy this far above test accuracy: overfitting
LOW = 0.6  # final train accuracy below this: underfitting
GOOD = 0.85


def _get(item: Any, name: str) -> float:
    value = item[name] if isinstance(item, dict) else getattr(item, name)
    return float("nan") if value is None else float(value)


def suggested_epochs(history: Sequence[Any]) -> int | None:
    """The epoch with the lowest test loss, when test loss clearly rises after it (else None)."""
    test_loss = [_get(h, "test_loss") for h in history]
    train_loss = [_get(h, "train_loss") for h in history]
    finite = [(i, v) for i, v in enumerate(test_loss) if v == v]
    if len(finite) < 4:
        return None
    best_i, best = min(finite, key=lambda item: item[1])
    if best_i < len(test_loss) - 2 and test_loss[-1] > 1.2 * best and train_loss[-1] < train_loss[best_i]:
        return best_i + 1
    return None


def read_curves(history: Sequence[Any], *, train_accuracy: float | None = None,
                test_accuracy: float | None = None) -> list[str]:
    """Sentences about a training run, most important first.

    `train_accuracy` and `test_accuracy` are the saved model's (after its final calibration), the
    numbers shown everywhere else; without them the last epoch's figures stand in. The per-epoch
    figures are running ones (train accuracy on augmented batches) and are named so.
    """
    if not history:
        return ["No epochs finished: train again."]
    last = history[-1]
    last_train = _get(last, "train_accuracy") if train_accuracy is None else float(train_accuracy)
    last_test = _get(last, "test_accuracy") if test_accuracy is None else float(test_accuracy)
    lines: list[str] = []
    if last_test != last_test:  # NaN: no test split
        return [f"train accuracy {last_train:.0%}; there was no test split, so generalisation is unknown."]
    if last_train < LOW:
        lines.append(f"train accuracy stays low ({last_train:.0%}): the model is underfitting; train more "
                     "epochs or make the classes' samples more distinct.")
    elif last_train - last_test > GAP:
        lines.append(f"test accuracy ({last_test:.0%}) stays far below train accuracy ({last_train:.0%}): "
                     "the model is overfitting, add more varied samples.")
    elif last_test >= GOOD:
        lines.append(f"train ({last_train:.0%}) and test ({last_test:.0%}) accuracy are high and close: "
                     "the model generalises well; validate it live with new sounds.")
    else:
        lines.append(f"test accuracy is {last_test:.0%} (train {last_train:.0%}): usable, but more and "
                     "more varied samples should raise it.")
    best = suggested_epochs(history)
    if best is not None:
        lines.append(f"test loss is lowest at epoch {best} and rises after it while train loss keeps "
                     f"falling: about {best} epochs are enough (press e to use {best}).")
    test_acc = [_get(h, "test_accuracy") for h in history]
    if len(test_acc) >= 5 and test_acc[-1] - test_acc[-5] > 0.05 and _get(last, "train_accuracy") < 0.99:
        lines.append("accuracy was still rising at the last epoch: more epochs may help.")
    return lines


def read_confusion(labels: Sequence[str], matrix: Sequence[Sequence[int]]) -> list[str]:
    """The most confused pair of classes, if any: "rows are the true class, columns the prediction"."""
    worst: tuple[int, int, int, int] | None = None
    for i, row in enumerate(matrix):
        total = sum(row)
        for j, count in enumerate(row):
            if i != j and count and (worst is None or count > worst[2]):
                worst = (i, j, int(count), int(total))
    if worst is None:
        return ["every test sample was classified correctly."] if matrix else []
    i, j, count, total = worst
    return [f"{labels[i]} is most often taken for {labels[j]} ({count} of {total} test samples): "
            "add more distinct samples of both."]

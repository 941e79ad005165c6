"""Is a project ready to train? One check, used by `earshot info`, the app and training itself."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from core.errors import TrainingError
from core.spec import IMBALANCE_RATIO


@dataclass(frozen=True)
class ClassSummary:
    name: str
    samples: int
    seconds: float


@dataclass(frozen=True)
class Readiness:
    """Shortfalls (problems: training cannot start) and warnings (it can, but should it?)."""

    problems: list[str]
    warnings: list[str]
    shortfalls: dict[str, int]  # class -> samples it has, for the classes below the minimum
    min_samples: int
    enough_classes: bool

    @property
    def ready(self) -> bool:
        return not self.problems

    def require(self) -> None:
        """Raise TrainingError listing every shortfall when training cannot start."""
        if not self.enough_classes:
            raise TrainingError("training needs at least two classes",
                                "add a class and record samples for it")
        if self.shortfalls:
            listed = "; ".join(f"{name}: {n} of {self.min_samples}" for name, n in self.shortfalls.items())
            raise TrainingError(f"not enough samples (at least {self.min_samples} per class): {listed}",
                                "record or import more samples for these classes")


def check_readiness(counts: dict[str, int], min_samples: int) -> Readiness:
    """`counts`: samples per class, in class order."""
    shortfalls = {name: n for name, n in counts.items() if n < min_samples}
    problems = [f"{name}: {n} of {min_samples} samples, needs {min_samples - n} more"
                for name, n in shortfalls.items()]
    enough_classes = len(counts) >= 2
    if not enough_classes:
        problems.append("only one class: add a class to classify")
    warnings: list[str] = []
    sizes = list(counts.values())
    if sizes and min(sizes) > 0 and max(sizes) > IMBALANCE_RATIO * min(sizes):
        big = max(counts, key=lambda k: counts[k])
        small = min(counts, key=lambda k: counts[k])
        warnings.append(f"imbalanced classes: {big} has {counts[big]} samples, {small} only {counts[small]}; "
                        "keep the classes about the same size (class weights compensate)")
    return Readiness(problems, warnings, shortfalls, min_samples, enough_classes)


@dataclass(frozen=True)
class ProjectSummary:
    """What `earshot info` reports: counts per class and whether training can start."""

    name: str
    sample_rate: int
    clip_seconds: float
    classes: list[ClassSummary]
    ready: bool
    problems: list[str]
    warnings: list[str]

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "sample_rate": self.sample_rate,
            "clip_seconds": self.clip_seconds,
            "classes": [asdict(c) for c in self.classes],
            "ready": self.ready,
            "problems": list(self.problems) + list(self.warnings),
        }

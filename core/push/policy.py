"""Which decisions become messages: on change only or every one, at most one per `min_interval`.

Pure logic with the clock passed in, so it is tested without a broker or sleeping.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Generic, Protocol, TypeVar


class DecisionLike(Protocol):
    """What the publisher needs from a decision (core.infer.Decision has these)."""

    @property
    def time(self) -> float: ...

    @property
    def label(self) -> str: ...

    @property
    def confidence(self) -> float: ...

    @property
    def scores(self) -> Mapping[str, float]: ...


D = TypeVar("D", bound=DecisionLike)


class PublishPolicy(Generic[D]):
    """Decide per decision whether to publish it now, hold it, or skip it.

    On change: a decision is published when its label differs from the last published label. If that
    happens within `min_interval` of the last message, it is held and published when the interval ends,
    unless the label goes back first (then nothing is sent). Every decision: decisions within
    `min_interval` of the last message are skipped.
    """

    def __init__(self, *, on_change: bool, min_interval: float) -> None:
        self.on_change = on_change
        self.min_interval = float(min_interval)
        self.skipped = 0
        self._last_label: str | None = None
        self._last_time = -math.inf
        self._held: D | None = None

    def offer(self, decision: D, now: float) -> D | None:
        """The decision to publish now, or None (skipped, or held until `deadline`)."""
        if self.on_change and decision.label == self._last_label:
            self._drop_held()
            self.skipped += 1
            return None
        if now - self._last_time < self.min_interval:
            if self.on_change:
                self._drop_held()
                self._held = decision
            else:
                self.skipped += 1
            return None
        self._drop_held()
        return self._accept(decision, now)

    def due(self, now: float) -> D | None:
        """The held decision once its interval has passed, else None."""
        if self._held is not None and now - self._last_time >= self.min_interval:
            held, self._held = self._held, None
            return self._accept(held, now)
        return None

    @property
    def deadline(self) -> float | None:
        """When the held decision becomes due (same clock as `now`), or None if nothing is held."""
        return None if self._held is None else self._last_time + self.min_interval

    def forget(self) -> None:
        """Forget the last label (after a reconnect), so the current label is published again."""
        self._last_label = None

    def _accept(self, decision: D, now: float) -> D:
        self._last_label = decision.label
        self._last_time = now
        return decision

    def _drop_held(self) -> None:
        if self._held is not None:
            self._held = None
            self.skipped += 1

"""The polling schedule of a waiter: the safety net under wake-ups, with exponential growth and jitter."""

from __future__ import annotations

import random

from config.gpu import GpuLockSettings


class Backoff:
    """Poll intervals from ``poll_interval`` up to ``max_poll_interval``, each jittered by ``jitter``."""

    def __init__(self, settings: GpuLockSettings, rng: random.Random | None = None) -> None:
        self._settings = settings
        # The module's generator is reseeded in forked children and costs nothing to reuse.
        self._uniform = rng.uniform if rng is not None else random.uniform
        self.interval_s = settings.poll_interval

    def upper_bound_s(self) -> float:
        """Return the longest the next wait can last."""
        return self.interval_s * (1 + self._settings.jitter)

    def next_s(self) -> float:
        """Return the current interval with jitter applied."""
        jitter = self._settings.jitter
        return self.interval_s * (1 + self._uniform(-jitter, jitter))

    def grow(self) -> None:
        """Lengthen the interval after a poll that found nothing, if backoff is exponential."""
        if self._settings.exponential_backoff:
            grown = self.interval_s * self._settings.backoff_factor
            self.interval_s = min(grown, self._settings.max_poll_interval)

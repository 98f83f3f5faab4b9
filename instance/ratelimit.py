"""A small in-process rate limiter (sliding window), for logins and password-reset requests."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable


class RateLimiter:
    def __init__(self, limit: int, window: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.window = window
        self.clock = clock
        self._hits: dict[str, deque[float]] = {}

    def _recent(self, key: str) -> deque[float]:
        now = self.clock()
        hits = self._hits.setdefault(key, deque())
        while hits and hits[0] <= now - self.window:
            hits.popleft()
        return hits

    def retry_after(self, *keys: str) -> int:
        """Seconds to wait before another attempt under any of ``keys`` is allowed; 0 when allowed now."""
        wait = 0.0
        for key in keys:
            hits = self._recent(key)
            if len(hits) >= self.limit:
                wait = max(wait, hits[0] + self.window - self.clock())
        return max(0, int(wait + 0.999)) if wait > 0 else 0

    def hit(self, *keys: str) -> None:
        now = self.clock()
        for key in keys:
            self._recent(key).append(now)
        if len(self._hits) > 100_000:  # forget idle keys so memory stays bounded
            for key in [k for k, v in self._hits.items() if not v]:
                del self._hits[key]

    def reset(self, *keys: str) -> None:
        for key in keys:
            self._hits.pop(key, None)

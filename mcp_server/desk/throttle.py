"""Failed desk logins, throttled per client address and in total, in bounded memory.

A client with :attr:`LoginThrottle.per_client` failures within :attr:`LoginThrottle.window` seconds
is refused (HTTP 429 with ``Retry-After``) until the oldest of them leaves the window; the same
holds for all clients together with :attr:`LoginThrottle.overall` failures (many addresses
guessing at once). A refused attempt is not checked and not counted. A successful login forgets
that client's failures. At most :attr:`LoginThrottle.max_clients` addresses are remembered; the
least recently failing one is forgotten first (the overall limit still counts its failures).
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class LoginThrottle:
    per_client: int = 5
    overall: int = 50
    window: float = 60.0
    max_clients: int = 4096
    clock: Callable[[], float] = time.monotonic
    _clients: OrderedDict[str, deque[float]] = field(default_factory=OrderedDict, init=False)
    _all: deque[float] = field(default_factory=deque, init=False)

    def retry_after(self, client: str) -> int | None:
        """Seconds until ``client`` may try again, or None when it may try now."""
        now = self.clock()
        waits = [
            self._wait(self._all, self.overall, now),
            self._wait(self._clients.get(client), self.per_client, now),
        ]
        longest = max((w for w in waits if w is not None), default=None)
        return None if longest is None else max(1, math.ceil(longest))

    def failed(self, client: str) -> None:
        now = self.clock()
        times = self._clients.pop(client, None) or deque(maxlen=self.per_client)
        times.append(now)
        self._clients[client] = times  # most recent last
        while len(self._clients) > self.max_clients:
            self._clients.popitem(last=False)
        self._all.append(now)
        while len(self._all) > self.overall:
            self._all.popleft()

    def succeeded(self, client: str) -> None:
        self._clients.pop(client, None)

    def _wait(self, times: deque[float] | None, limit: int, now: float) -> float | None:
        if times is None:
            return None
        while times and times[0] <= now - self.window:
            times.popleft()
        if len(times) < limit:
            return None
        return times[0] + self.window - now

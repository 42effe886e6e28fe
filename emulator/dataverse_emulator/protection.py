"""Dataverse service-protection limits: per user, 300-second sliding window.

Three limits (api-limits.md): number of requests, combined execution time, concurrent requests.
The concurrency limit trips at once; the counting limits answer with a Retry-After that reaches
until the oldest counted request leaves the window, and grows under continued pressure.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from dataclasses import dataclass

from .clock import Clock
from .http import Response, dataverse_error

WINDOW_SECONDS = 300.0


@dataclass(frozen=True)
class Limits:
    requests: int
    execution_ms: int
    concurrent: int


PROFILES: dict[str, Limits | None] = {
    "default": Limits(requests=6000, execution_ms=1_200_000, concurrent=52),
    # The HR service's stricter limits (500 requests / 5 minutes, 25 concurrent).
    "hr": Limits(requests=500, execution_ms=300_000, concurrent=25),
    "off": None,
}


def _fmt_ms(ms: int) -> str:
    return f"{ms:,}"


class _UserState:
    def __init__(self) -> None:
        self.requests: deque[float] = deque()  # start times
        self.executions: deque[tuple[float, float]] = deque()  # (end time, ms)
        self.execution_total = 0.0
        self.in_flight = 0
        self.recent_rejections: deque[float] = deque()


class Protection:
    def __init__(self, profile: str, clock: Clock) -> None:
        if profile not in PROFILES:
            raise ValueError(f"unknown service-protection profile {profile!r}; choose {sorted(PROFILES)}")
        self.limits = PROFILES[profile]
        self.clock = clock
        self._lock = threading.Lock()
        self._users: dict[object, _UserState] = {}

    def enter(self, user: object) -> Response | None:
        """Admit a request for ``user`` or return the 429 Dataverse would send."""
        if self.limits is None:
            return None
        now = self.clock.timestamp()
        with self._lock:
            st = self._users.setdefault(user, _UserState())
            self._expire(st, now)
            lim = self.limits
            if st.in_flight >= lim.concurrent:
                return self._reject(
                    st, now, "0x80072326", f"Number of concurrent requests exceeded the limit of {lim.concurrent}.", 1
                )
            if len(st.requests) >= lim.requests:
                wait = st.requests[0] + WINDOW_SECONDS - now
                return self._reject(
                    st, now, "0x80072322",
                    f"Number of requests exceeded the limit of {lim.requests} over time window of 300 seconds.",
                    wait,
                )
            if st.execution_total >= lim.execution_ms:
                wait = st.executions[0][0] + WINDOW_SECONDS - now
                return self._reject(
                    st, now, "0x80072321",
                    f"Combined execution time of incoming requests exceeded limit of {_fmt_ms(lim.execution_ms)}  "
                    "milliseconds over time window of 300 seconds. Decrease number of concurrent requests or "
                    "reduce the duration of requests and try again later.",
                    wait,
                )
            st.requests.append(now)
            st.in_flight += 1
            return None

    def exit(self, user: object, elapsed_ms: float) -> None:
        if self.limits is None:
            return
        now = self.clock.timestamp()
        with self._lock:
            st = self._users[user]
            st.in_flight -= 1
            st.executions.append((now, elapsed_ms))
            st.execution_total += elapsed_ms

    def remaining(self, user: object) -> tuple[int, float] | None:
        """(requests left, execution ms left) for the debug headers; None when limits are off."""
        if self.limits is None:
            return None
        with self._lock:
            st = self._users.get(user) or _UserState()
            return (
                max(0, self.limits.requests - len(st.requests)),
                max(0.0, self.limits.execution_ms - st.execution_total),
            )

    def _expire(self, st: _UserState, now: float) -> None:
        edge = now - WINDOW_SECONDS
        while st.requests and st.requests[0] < edge:
            st.requests.popleft()
        while st.executions and st.executions[0][0] < edge:
            st.execution_total -= st.executions.popleft()[1]
        while st.recent_rejections and st.recent_rejections[0] < now - 60:
            st.recent_rejections.popleft()

    def _reject(self, st: _UserState, now: float, code: str, message: str, wait: float) -> Response:
        st.recent_rejections.append(now)
        # Continued pressure lengthens Retry-After (one extra second per 20 recent rejections).
        retry_after = max(1, math.ceil(wait)) + len(st.recent_rejections) // 20
        return dataverse_error(429, code, message, {"Retry-After": str(retry_after)})

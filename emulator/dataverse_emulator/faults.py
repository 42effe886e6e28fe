"""Latency model and fault injection for Dataverse requests.

Random faults are drawn from a seeded RNG, so a sequential client sees the same faults on every
run. Tests that need an exact fault use ``queue()``: the next matching requests get that fault.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass

from .config import EmulatorConfig, FaultConfig
from .http import Response, dataverse_error

# Bodies as Dataverse sends them (429: service protection; 500: generic platform error).
_BODIES = {
    429: ("0x80072322", "Number of requests exceeded the limit of 6000 over time window of 300 seconds."),
    500: ("0x80040216", "An unexpected error occurred."),
    502: ("", "Bad Gateway"),
    # UNCONFIRMED: the front end's 503 body; the client must key on the status, not this text.
    503: ("", "The service is temporarily unavailable. Please try again later."),
    504: ("", "Gateway Timeout"),
}


@dataclass
class Fault:
    kind: str  # "status" | "reset" | "truncate" | "slow"
    status: int = 0
    retry_after: int | None = None
    delay: float = 0.0

    def response(self) -> Response:
        code, message = _BODIES.get(self.status, ("", "Injected fault"))
        headers = {"Retry-After": str(self.retry_after)} if self.retry_after is not None else None
        return dataverse_error(self.status, code, message, headers)


@dataclass
class _Scripted:
    fault: Fault
    remaining: int
    path_contains: str | None
    method: str | None


class Faults:
    def __init__(self, config: EmulatorConfig, rates: FaultConfig | None = None) -> None:
        self.config = config
        self.rates = rates or config.faults  # config.token_faults for the token endpoint
        self._rng = random.Random(config.seed ^ 0xFA17)
        self._lock = threading.Lock()
        self._scripted: list[_Scripted] = []

    def queue(
        self,
        status: int = 429,
        count: int = 1,
        retry_after: int | None = None,
        path_contains: str | None = None,
        kind: str = "status",
        method: str | None = None,
        delay: float = 0.0,
    ) -> None:
        """Force the next ``count`` matching Dataverse requests to fail this way."""
        if kind not in {"status", "reset", "truncate", "slow"}:
            raise ValueError(f"unknown fault kind {kind!r}")
        if status == 429 and retry_after is None:
            retry_after = self.rates.retry_after_seconds
        with self._lock:
            self._scripted.append(
                _Scripted(Fault(kind, status, retry_after, delay), count, path_contains, method)
            )

    def clear(self) -> None:
        with self._lock:
            self._scripted.clear()

    def pick(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for s in self._scripted:
                if (s.path_contains is None or s.path_contains in path) and (
                    s.method is None or s.method == method
                ):
                    s.remaining -= 1
                    if s.remaining <= 0:
                        self._scripted.remove(s)
                    return s.fault
            return self._random()

    def _random(self) -> Fault | None:
        f = self.rates
        r = self._rng.random()
        retry_after = f.retry_after_seconds
        for rate, fault in (
            (f.rate_429, Fault("status", 429, retry_after)),
            (f.rate_500, Fault("status", 500)),
            (f.rate_503, Fault("status", 503, retry_after)),
            (f.rate_reset, Fault("reset")),
            (f.rate_truncate, Fault("truncate")),
            (f.rate_slow, Fault("slow", delay=f.slow_seconds)),
        ):
            if r < rate:
                return fault
            r -= rate
        return None

    def latency(self, rows: int) -> float:
        """Seconds a request should take: base plus per returned row (the bench's server model)."""
        return (self.config.latency_ms + self.config.latency_per_row_ms * rows) / 1000.0

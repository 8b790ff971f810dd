"""The retry policy and the breaker: small pure units, so their timing is testable without waiting."""

from __future__ import annotations

import email.utils
import random
import re
import time
from dataclasses import dataclass
from typing import Callable, Optional

from .settings import DEFAULTS

RETRY_STATUSES = frozenset({429, 502, 503, 504})
_DELTA_SECONDS = re.compile(r"[0-9]+", re.ASCII)


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded retries with jittered exponential backoff.

    ``max_attempts`` counts the first try; ``deadline`` bounds the whole
    request, waits included, in seconds; a ``Retry-After`` longer than
    ``retry_after_cap`` is cut to it.
    """

    max_attempts: int = DEFAULTS["max_attempts"]
    backoff_base: float = 0.5
    backoff_max: float = 8.0
    deadline: float = DEFAULTS["retry_deadline"]
    retry_after_cap: float = 30.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if min(self.backoff_base, self.backoff_max, self.deadline, self.retry_after_cap) < 0:
            raise ValueError("retry delays and deadline must not be negative")

    def delay(self, attempt: int, retry_after: Optional[float], rng: random.Random) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based).

        A server's ``Retry-After`` wins over the backoff (capped); otherwise
        full jitter over an exponentially growing window spreads clients apart.
        """
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.retry_after_cap)
        window = min(self.backoff_max, self.backoff_base * (2 ** (attempt - 1)))
        return rng.uniform(0, window)


def parse_retry_after(value: Optional[str], now: float) -> Optional[float]:
    """Seconds from a ``Retry-After`` header (delta-seconds or HTTP-date), None if absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if _DELTA_SECONDS.fullmatch(value):  # not str.isdigit(): it takes digits float() refuses, such as '²'
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - now)


class Breaker:
    """Stops sending requests to an appliance that keeps failing as a whole.

    After ``threshold`` requests in a row have failed past their retries
    with an error that says the appliance itself is unwell (unreachable,
    rate limiting, a gateway or unavailable status: the caller tells), requests
    are refused without being sent for ``cooldown`` seconds; then they go
    out again, and the first that fails trips it again at once. A success
    resets it. One lookup of 10,000 hashes is 100 requests, and a search
    carries one lookup a chunk: without this, a dead appliance would cost
    every one of them its whole retry budget.

    ``clock`` is injectable; the caller serializes calls (the client holds
    a lock around them).
    """

    def __init__(self, threshold: int = 3, cooldown: float = 30.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.threshold = threshold
        self.cooldown = cooldown
        self._clock = clock
        self._failures = 0
        self._open_until = float("-inf")
        self.last_failure: Optional[Exception] = None

    def is_open(self) -> bool:
        """Whether requests are refused now."""
        return self._clock() < self._open_until

    def failed(self, error: Exception) -> bool:
        """Count a failed request; True when this failure opened the breaker
        (not when it was open already: requests in flight when it opened fail
        too, and the opening is said once)."""
        was_open = self.is_open()
        self._failures += 1
        self.last_failure = error
        if self._failures >= self.threshold:
            self._open_until = self._clock() + self.cooldown
            return not was_open
        return False

    def succeeded(self) -> None:
        """The appliance answered: count afresh."""
        self._failures = 0
        self._open_until = float("-inf")

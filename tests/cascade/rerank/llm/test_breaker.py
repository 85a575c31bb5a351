from __future__ import annotations

from cascade.rerank.llm.breaker import CircuitBreaker


def state(b: CircuitBreaker) -> str:
    return b.state


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_opens_after_consecutive_failures_only() -> None:
    b = CircuitBreaker(failure_threshold=3, reset_after_s=10, clock=Clock())
    b.record_failure()
    b.record_failure()
    b.record_success()
    b.record_failure()
    b.record_failure()
    assert state(b) == "closed" and b.allow()
    b.record_failure()
    assert state(b) == "open" and not b.allow()


def test_half_open_lets_one_probe_and_closes_on_success() -> None:
    clock = Clock()
    b = CircuitBreaker(failure_threshold=1, reset_after_s=10, clock=clock)
    b.record_failure()
    clock.now = 10.0
    assert state(b) == "half_open"
    assert b.allow() and not b.allow()  # one probe at a time
    b.record_success()
    assert state(b) == "closed" and b.allow()


def test_failed_probe_reopens_for_another_cool_down() -> None:
    clock = Clock()
    b = CircuitBreaker(failure_threshold=5, reset_after_s=10, clock=clock)
    for _ in range(5):
        b.record_failure()
    clock.now = 11.0
    assert b.allow()
    b.record_failure()
    states = []
    for now in (11.0, 20.0, 21.0):
        clock.now = now
        states.append(state(b))
    assert states == ["open", "open", "half_open"]

"""The client retries a throttled or unavailable token endpoint (429/5xx, emulator token faults)
instead of failing the Dataverse request, waits at least its Retry-After, and still fails fast on a
real refusal (wrong secret)."""

from __future__ import annotations

import time
from typing import Any

import pytest

from hr_dataverse.dataverse import AuthError


@pytest.mark.parametrize("status", [429, 500, 503])
def test_transient_token_failures_are_retried(emulator: Any, make_client: Any, status: int) -> None:
    emulator.app.token_faults.queue(status, count=2, retry_after=1, path_contains="/oauth2/v2.0/token")
    sleeps: list[float] = []
    client = make_client(backoff_base=0.01, backoff_max=0.02)

    def wait(seconds: float) -> None:  # really waits: MSAL replays the failure for Retry-After seconds
        sleeps.append(seconds)
        time.sleep(seconds)

    client._sleep = wait
    assert client.whoami()["UserId"]
    # Both retries waited out the Retry-After (1 s, minus the time since the answer), not the 0.02 s backoff.
    assert len(sleeps) == 2 and all(0.5 < s <= 1 for s in sleeps), sleeps
    assert client.stats.retries == 2


def test_wrong_secret_is_not_retried(emulator: Any, make_client: Any) -> None:
    client = make_client(client_secret="wrong-secret-value")
    sleeps: list[float] = []
    client._sleep = sleeps.append
    with pytest.raises(AuthError) as info:
        client.whoami()
    assert info.value.aadsts == 7000215 and not info.value.transient and sleeps == []

"""The retry policy the project's DAGs share.

Failures that retrying cannot fix (set-up blockers, bad settings, failed checks, rejected rows)
raise ``AirflowFailException`` and skip these retries; they cover throttling, outages and dropped
connections, backing off up to ten minutes.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any


def retrying(execution_timeout: timedelta) -> dict[str, Any]:
    return {
        "retries": 2,
        "retry_delay": timedelta(minutes=1),
        "retry_exponential_backoff": 2.0,  # Airflow 3: a multiplier (0 = off)
        "max_retry_delay": timedelta(minutes=10),
        "execution_timeout": execution_timeout,
    }

"""Defaults shared by the connection form, the client settings, the demo and the README.

Kept free of imports so the provider's connection form (``get_provider_info``, read without
importing the hook) can use them.

``DEFAULT_MAX_CONCURRENCY``: parallel Web API requests per environment when the connection does not
say. 5 is the emulator's ``x-ms-dop-hint`` (Dataverse's own advice varies by environment; Microsoft's
bulk sample printed 4) and sits under the execution-time limit's average of 4 busy requests over 5
minutes with room for bursts; the ``dataverse_api`` pool is sized from it (README, Running from the
Airflow UI).
"""

from __future__ import annotations

DEFAULT_MAX_CONCURRENCY = 5

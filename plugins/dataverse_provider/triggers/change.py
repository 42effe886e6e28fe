"""``DataverseChangeTrigger``: a watcher trigger (runs in the triggerer) that fires when a synced
table changed in Dataverse.

Every ``interval`` seconds (slower when the poller's request budget needs it, see
``hr_dataverse.sync.change_probe.PollPacer``) it reads the table's stored delta link from the
warehouse and follows it for one row: nothing changed → no further request; a change (or a link
Dataverse refuses, which needs a full resync) → one ``TriggerEvent``, and the AssetWatcher turns it
into an event of the table's change asset, which starts ``hr_dataverse_sync`` for that table. The
same stored link fires once: the next event needs the sync to have stored a newer link. A table
without a stored link is not polled (its first full load comes from the cron run or a manual run).

Throttling (429) backs the poller off (``Retry-After``, doubling); three failed polls in a row send
the ``poller_failed`` alert once, until a poll succeeds again. Blocking work (warehouse read, HTTP)
runs in threads, never on the triggerer's event loop. The loop never returns, so the instance
state (last link fired) survives between events.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from airflow.triggers.base import BaseEventTrigger, TriggerEvent

from dataverse_provider.hooks.dataverse import DataverseHook

log = logging.getLogger(__name__)

FAILURES_BEFORE_ALERT = 3
_CLIENTS: dict[str, Any] = {}  # one Dataverse client per connection in this triggerer process (token cache)


class DataverseChangeTrigger(BaseEventTrigger):
    def __init__(self, *, table: str, conn_id: str = DataverseHook.default_conn_name, interval: float = 60.0,
                 tables: int = 1, budget_per_hour: int = 600) -> None:
        super().__init__()
        self.table = table
        self.conn_id = conn_id
        self.interval = float(interval)
        self.tables = int(tables)
        self.budget_per_hour = int(budget_per_hour)
        self._warehouse: Any = None

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (f"{type(self).__module__}.{type(self).__qualname__}",
                {"table": self.table, "conn_id": self.conn_id, "interval": self.interval, "tables": self.tables,
                 "budget_per_hour": self.budget_per_hour})

    async def run(self) -> AsyncIterator[TriggerEvent]:
        from hr_dataverse.sync.change_probe import PollPacer, ProbeOutcome, ProbeResult

        pacer = PollPacer(interval=self.interval, tables=self.tables, budget_per_hour=self.budget_per_hour)
        fired_for: str | None = None
        failures, alerted = 0, False
        loop = asyncio.get_running_loop()
        while True:
            started = loop.time()
            link: str | None = None
            try:
                link = await asyncio.to_thread(self._stored_link)
                result = (await asyncio.to_thread(self._probe, link) if link
                          else ProbeResult(ProbeOutcome.UNCHANGED, detail="no delta link stored yet"))
            except Exception as exc:  # noqa: BLE001 - a poll failure must not end the watcher
                result = ProbeResult(ProbeOutcome.FAILED, detail=f"{type(exc).__name__}: {exc}")
            if result.outcome in (ProbeOutcome.FAILED, ProbeOutcome.THROTTLED):
                failures += 1
                log.warning("change poll of %s: %s (%s)", self.table, result.outcome, result.detail[:300])
                if failures >= FAILURES_BEFORE_ALERT and not alerted and result.outcome is ProbeOutcome.FAILED:
                    alerted = await asyncio.to_thread(self._alert, result.detail)
            else:
                failures, alerted = 0, False
            if result.needs_sync and link != fired_for:
                fired_for = link
                log.info("change poll of %s: %s; starting a sync", self.table, result.outcome)
                yield TriggerEvent({"table": self.table, "outcome": str(result.outcome),
                                    "detected_at": datetime.now(UTC).isoformat()})
            await asyncio.sleep(max(0.0, pacer.next_delay(result) - (loop.time() - started)))  # a steady rate

    # --- blocking parts, run in threads ------------------------------------------------------

    def _stored_link(self) -> str | None:
        from dataverse_provider.warehouse import open_warehouse

        if self._warehouse is None:  # kept between polls (one small engine), reopened after a failure
            self._warehouse = open_warehouse()
        try:
            state = self._warehouse.get_state(self.table)
        except Exception:
            self._warehouse.dispose()
            self._warehouse = None
            raise
        return state.delta_link if state else None

    def _probe(self, link: str) -> Any:
        from hr_dataverse.sync.change_probe import probe_changes

        return probe_changes(self._client(), link)

    def _client(self) -> Any:
        client = _CLIENTS.get(self.conn_id)
        if client is None:
            from hr_dataverse.dataverse import DataverseClient

            # One attempt per poll: throttling backs the poller off instead of waiting inside the request.
            settings = dataclasses.replace(DataverseHook(self.conn_id).get_settings(), max_attempts=1)
            client = _CLIENTS[self.conn_id] = DataverseClient(settings)
        return client

    def _alert(self, detail: str) -> bool:
        from dataverse_provider.alerts import alert_settings, send_alert
        from hr_dataverse.alerts import AlertEvent, compose

        try:
            settings = alert_settings()
            if not settings.wants(AlertEvent.POLLER_FAILED):
                return True
            alert = compose(AlertEvent.POLLER_FAILED, dag_id="hr_dataverse_sync", run_id=None, task_id=None,
                            detail=f"table {self.table}: {FAILURES_BEFORE_ALERT} polls in a row failed; last: {detail}")
            return bool(send_alert(alert, settings))
        except Exception as exc:  # noqa: BLE001 - alerting must not stop the poller
            log.error("poller alert could not be sent: %s", exc)
            return False

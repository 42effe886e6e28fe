"""DataverseClient against the emulator over real TLS: retries, throttling, refresh, typed errors."""

from __future__ import annotations

from typing import Any

import pytest

from hr_dataverse.dataverse import (
    BadRequest,
    DataverseClient,
    ForeignHostError,
    NetworkError,
    NotAMember,
    NotFound,
    PermissionDenied,
    ServerError,
    Throttled,
    Unauthorized,
    diagnose,
    iter_pages,
)


def log_of(emulator: Any, path_end: str) -> list[Any]:
    return [e for e in emulator.app.request_log if e.path.endswith(path_end)]


def test_whoami_over_tls_records_dop_hint_and_request(client: DataverseClient, emulator: Any) -> None:
    who = client.whoami()
    assert set(who) >= {"UserId", "BusinessUnitId", "OrganizationId"}
    assert client.dop_hint == emulator.app.config.dop_hint
    (entry,) = log_of(emulator, "/WhoAmI")
    assert (entry.method, entry.status, entry.app_id) == ("GET", 200, emulator.info["client_id"])
    assert client.stats.requests == 1 and client.stats.retries == 0


def test_429_waits_retry_after_not_much_more(client: DataverseClient, emulator: Any) -> None:
    emulator.app.faults.queue(status=429, count=2, retry_after=1, path_contains="WhoAmI")
    client.whoami()
    entries = log_of(emulator, "/WhoAmI")
    assert [e.status for e in entries] == [429, 429, 200]
    gaps = [b.started - a.started for a, b in zip(entries, entries[1:], strict=False)]
    assert all(1.0 <= g < 1.5 for g in gaps), gaps
    assert (client.stats.throttled_429, client.stats.retries, client.stats.wait_seconds) == (2, 2, 2.0)


def test_429_beyond_attempts_raises_throttled(make_client: Any, emulator: Any) -> None:
    client = make_client(max_attempts=2)
    emulator.app.faults.queue(status=429, count=5, retry_after=1, path_contains="WhoAmI")
    with pytest.raises(Throttled) as info:
        client.whoami()
    assert info.value.retry_after == 1.0 and info.value.code == "0x80072322" and info.value.request_id
    assert [e.status for e in log_of(emulator, "/WhoAmI")] == [429, 429]
    assert diagnose(info.value).check == "throttling"


def test_503_is_retried_with_backoff_then_succeeds(client: DataverseClient, emulator: Any) -> None:
    emulator.app.faults.queue(status=503, count=2, path_contains="WhoAmI")
    assert client.whoami()["UserId"]
    entries = log_of(emulator, "/WhoAmI")
    assert [e.status for e in entries] == [503, 503, 200]
    # full jitter under ceilings of 0.1 s then 0.2 s (backoff_base=0.1 in settings_for)
    assert entries[2].started - entries[0].started < 0.3 + 0.5
    assert client.stats.retries == 2


def test_500_is_not_retried(client: DataverseClient, emulator: Any) -> None:
    emulator.app.faults.queue(status=500, count=1, path_contains="WhoAmI")
    with pytest.raises(ServerError) as info:
        client.whoami()
    assert info.value.status == 500 and info.value.code == "0x80040216"
    assert len(log_of(emulator, "/WhoAmI")) == 1


@pytest.mark.parametrize("kind", ["reset", "truncate"])
def test_resets_and_truncated_bodies_are_retried(client: DataverseClient, emulator: Any, kind: str) -> None:
    emulator.app.faults.queue(kind=kind, count=1, path_contains="WhoAmI")
    assert client.whoami()["UserId"]
    assert len(log_of(emulator, "/WhoAmI")) == 2 and client.stats.retries == 1


def test_expired_token_triggers_exactly_one_refresh(client: DataverseClient, emulator: Any) -> None:
    client.whoami()
    emulator.app.clock.advance(2 * 3600)  # Dataverse now sees the cached token as expired
    client.whoami()
    assert [e.status for e in log_of(emulator, "/WhoAmI")] == [200, 401, 200]
    assert client.stats.token_refreshes == 1


def test_persistent_401_raises_unauthorized_after_one_refresh(client: DataverseClient, emulator: Any) -> None:
    emulator.app.faults.queue(status=401, count=3, path_contains="WhoAmI")
    with pytest.raises(Unauthorized):
        client.whoami()
    assert [e.status for e in log_of(emulator, "/WhoAmI")] == [401, 401]
    assert client.stats.token_refreshes == 1


def test_no_application_user_is_a_403_not_retried(client: DataverseClient, emulator: Any) -> None:
    emulator.app.security.remove_application_user(emulator.info["client_id"])
    with pytest.raises(NotAMember) as info:
        client.whoami()
    assert (info.value.status, info.value.code) == (403, "0x80072560")
    assert len(log_of(emulator, "/WhoAmI")) == 1
    assert "Application users" in diagnose(info.value).fix


def test_missing_read_privilege_names_the_table(client: DataverseClient, emulator: Any) -> None:
    table = emulator.app.schema["cdm_workerpersonaldetail"]
    with pytest.raises(PermissionDenied) as info:
        next(iter_pages(client, table.entity_set_name))
    assert info.value.missing_privilege == "prvReadcdm_workerpersonaldetail"
    assert info.value.table == "cdm_workerpersonaldetail"
    assert len(log_of(emulator, "/" + table.entity_set_name)) == 1
    assert "Read on cdm_workerpersonaldetail" in diagnose(info.value).cause


def test_unknown_table_and_unknown_column(client: DataverseClient, emulator: Any) -> None:
    with pytest.raises(NotFound) as missing:
        next(iter_pages(client, "cdm_wrokers"))
    assert missing.value.status == 404 and "cdm_wrokers" in diagnose(missing.value).cause
    workers = emulator.app.schema["cdm_worker"].entity_set_name
    with pytest.raises(BadRequest) as bad:
        next(iter_pages(client, workers, select=["cdm_nosuchcolumn"]))
    assert bad.value.status == 400 and "cdm_nosuchcolumn" in bad.value.message


def test_links_to_another_host_are_refused_before_sending(client: DataverseClient, emulator: Any) -> None:
    port = emulator.info["dataverse_url"].rsplit(":", 1)[1]
    with pytest.raises(ForeignHostError):
        client.request("GET", f"https://localhost:{port}/api/data/v9.2/WhoAmI")  # same server, other name
    assert len(emulator.app.request_log) == 0


def test_untrusted_certificate_and_refused_connection(make_client: Any) -> None:
    with pytest.raises(NetworkError) as tls:
        make_client(ca_bundle=None).whoami()
    assert tls.value.reason == "tls" and "ca_bundle" in diagnose(tls.value).fix
    with pytest.raises(NetworkError) as refused:
        make_client(authority_host="127.0.0.1:1").whoami()
    assert refused.value.reason == "connection_refused"

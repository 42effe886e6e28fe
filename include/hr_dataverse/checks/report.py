"""The result of the pre-flight checks: one entry per check, rendered for logs and as JSON.

An entry never holds a token or a secret: causes come from :func:`diagnose` (built from server
error texts and our own wording) and details hold claims, counts and ids only.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from hr_dataverse.dataverse import DataverseError, NetworkError, ServerError, Throttled, diagnose
from hr_dataverse.vocabulary import CheckStatus

Status = CheckStatus  # the name callers import
STATUSES: tuple[CheckStatus, ...] = tuple(CheckStatus)  # in rising severity
_TRANSIENT_NETWORK = {"timeout", "connection", "connection_refused"}


def is_transient(error: BaseException) -> bool:
    """True when retrying later may succeed (throttling, 5xx, dropped connections); configuration
    mistakes (bad secret, missing table, untrusted certificate, unknown host) never are."""
    if isinstance(error, NetworkError):
        return error.reason in _TRANSIENT_NETWORK
    return isinstance(error, Throttled | ServerError)


@dataclass(frozen=True)
class CheckEntry:
    """One check's outcome. For ``ok`` entries ``cause`` says what was verified and ``fix`` is None."""

    check: str  # token, token signature, token claims, application user, table, read, change tracking, …
    target: str  # what was checked: the environment, a claim name, a table's logical name
    status: Status
    cause: str
    fix: str | None = None
    code: str | None = None  # Dataverse hex code or AADSTSnnnn
    request_id: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "status", CheckStatus(self.status))
        except ValueError:
            raise ValueError(f"status must be one of {CheckStatus.listing()}, got {self.status!r}") from None
        if self.status != CheckStatus.OK and not self.fix:
            raise ValueError(f"a {self.status} entry needs a fix ({self.check} / {self.target})")

    @property
    def label(self) -> str:
        return f"[{self.check}] {self.target}"

    def log_lines(self) -> list[str]:
        """``STATUS [check] target: cause (code, request id)`` plus, for failures, a ``fix:`` line."""
        ids = ", ".join(x for x in (self.code and f"code {self.code}",
                                    self.request_id and f"request id {self.request_id}") if x)
        lines = [f"{self.status.upper():7} {self.label}: {self.cause}" + (f" ({ids})" if ids else "")]
        if self.fix:
            lines.append(f"{'':7}   fix: {self.fix}")
        return lines


@dataclass
class CheckReport:
    """Entries in the order the checks ran. ``name`` is the check suite (token_validation, …)."""

    name: str
    entries: list[CheckEntry] = field(default_factory=list)
    created_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    def __iter__(self) -> Iterator[CheckEntry]:
        return iter(self.entries)

    def add(self, entry: CheckEntry) -> CheckEntry:
        self.entries.append(entry)
        return entry

    def ok(self, check: str, target: str, cause: str, *, request_id: str | None = None, **details: Any
           ) -> CheckEntry:
        return self.add(CheckEntry(check, target, CheckStatus.OK, cause, request_id=request_id, details=details))

    def warning(self, check: str, target: str, cause: str, fix: str, *, code: str | None = None,
                request_id: str | None = None, **details: Any) -> CheckEntry:
        return self.add(CheckEntry(check, target, CheckStatus.WARNING, cause, fix, code, request_id, details))

    def blocker(self, check: str, target: str, cause: str, fix: str, *, code: str | None = None,
                request_id: str | None = None, **details: Any) -> CheckEntry:
        return self.add(CheckEntry(check, target, CheckStatus.BLOCKER, cause, fix, code, request_id, details))

    def failure(self, check: str, target: str, error: BaseException, status: Status = CheckStatus.BLOCKER,
                *, cause: str | None = None, cause_suffix: str = "", **details: Any) -> CheckEntry:
        """An entry for a client error: cause and fix from :func:`diagnose`, code and request id
        from the error. ``cause`` replaces the diagnosed cause with a more specific one;
        ``cause_suffix`` adds what the failure means for this check."""
        if status == CheckStatus.OK:
            raise ValueError("a failure cannot be ok")
        d = diagnose(error)
        code = request_id = None
        if isinstance(error, DataverseError):
            code, request_id = error.code, error.request_id
            if error.status is not None:
                details.setdefault("http_status", error.status)
        cause = f"{cause or d.cause} {cause_suffix}".strip()
        return self.add(CheckEntry(check, target, status, cause, d.fix, code, request_id,
                                   {"diagnosis": d.check, "transient": is_transient(error), **details}))

    def blockers(self) -> list[CheckEntry]:
        return [e for e in self.entries if e.status == CheckStatus.BLOCKER]

    def only_transient_blockers(self) -> bool:
        """True when there are blockers and every one of them may go away on a retry."""
        blockers = self.blockers()
        return bool(blockers) and all(e.details.get("transient") for e in blockers)

    def warnings(self) -> list[CheckEntry]:
        return [e for e in self.entries if e.status == CheckStatus.WARNING]

    @property
    def status(self) -> Status:
        """The worst status of any entry (``ok`` for an empty report)."""
        return CheckStatus(max((e.status for e in self.entries), key=STATUSES.index, default=CheckStatus.OK))

    def counts(self) -> dict[str, int]:
        return {s.value: sum(1 for e in self.entries if e.status == s) for s in STATUSES}

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "created_at": self.created_at,
            "status": self.status.value,
            "counts": self.counts(),
            "entries": [{**asdict(e), "status": e.status.value} for e in self.entries],  # plain JSON values
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=False, default=str)

    def log_lines(self) -> list[str]:
        """One line per ok entry; a cause line and a fix line per warning or blocker."""
        return [line for e in self.entries for line in e.log_lines()]

    def summary_line(self) -> str:
        c = self.counts()
        return (f"{self.name}: {self.status} "
                f"({c[CheckStatus.OK]} ok, {c[CheckStatus.WARNING]} warnings, {c[CheckStatus.BLOCKER]} blockers)")

"""Command line: ``serve`` (prints one JSON line when ready) and ``mutate`` (HR changes)."""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import ssl
import sys
import urllib.error
import urllib.request
from pathlib import Path

from .config import EmulatorConfig, FaultConfig
from .schema import HR_TABLES


def _serve_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="start Entra ID + Dataverse Web API on loopback (HTTPS)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0, help="0 = pick a free port (default)")
    p.add_argument("--scale", type=int, default=200, help="number of HR workers to generate")
    p.add_argument("--seed", type=int, default=42, help="random seed (data, ids, faults)")
    p.add_argument("--cloud", choices=["public", "usgov", "china"], default="public",
                   help="Microsoft cloud whose token shape Entra ID serves (issuer, discovery)")
    p.add_argument("--latency-ms", type=float, default=0.0, help="base latency per Dataverse request")
    p.add_argument("--latency-per-row-ms", type=float, default=0.0, help="extra latency per returned row")
    p.add_argument(
        "--protection", choices=["default", "hr", "off"], default="default",
        help="service-protection profile: default (6000 req/300 s, 52 concurrent), hr (500/300 s, 25), off",
    )
    p.add_argument("--dop-hint", type=int, default=5, help="x-ms-dop-hint value returned")
    p.add_argument("--retention-days", type=float, default=7.0, help="change-tracking retention")
    p.add_argument("--untracked", default=",".join(EmulatorConfig.tables_without_change_tracking),
                   help="comma list of tables without change tracking (default %(default)s; '' = none)")
    for name in ("429", "500", "503", "reset", "truncate", "slow"):
        p.add_argument(f"--fault-{name}", type=float, default=0.0, metavar="RATE",
                       help=f"probability of an injected '{name}' fault per Dataverse request")
    # Tenant variants (tenant.py): set-up gaps the URS mapping's write-path check must name.
    p.add_argument("--without-urs", action="store_true", help="no URS tables (Scheduling solution not installed)")
    p.add_argument("--without-hr-virtual-tables", action="store_true", help="no mshr_ tables (an HR-only tenant)")
    p.add_argument("--without-worker-lookup", action="store_true", help="bookableresource without the Worker lookup")
    p.add_argument("--withhold-privilege", action="append", default=[], metavar="NAME",
                   help="a privilege the app user's role lacks, e.g. prvCreatecharacteristic (repeatable)")
    for name in ("429", "500", "503", "slow"):
        p.add_argument(f"--token-fault-{name}", type=float, default=0.0, metavar="RATE",
                       help=f"probability of an injected '{name}' fault per token-endpoint request")
    p.add_argument("--record-count-snapshot-age", type=float, default=EmulatorConfig.record_count_snapshot_max_age_seconds,
                   metavar="SECONDS", help="RetrieveTotalRecordCount snapshot is retaken when older (0 = live)")
    p.add_argument("--token-leeway", type=float, default=EmulatorConfig.access_token_leeway_seconds,
                   metavar="SECONDS", help="clock skew tolerated on access-token expiry")
    p.add_argument("--expired-token-body", choices=["error", "empty"], default=EmulatorConfig.expired_token_body,
                   help="401 body for an expired token (UNCONFIRMED; default: the documented error JSON)")
    p.add_argument("--delta-token-mismatch", choices=["refuse", "accept"], default=EmulatorConfig.delta_token_mismatch,
                   help="a $deltatoken reused on another entity set or $select (UNCONFIRMED)")
    p.add_argument("--state-dir", default=".emulator", help="where the local CA and certificate live")
    p.add_argument("--info-file", help="also write the ready JSON line to this file")
    p.add_argument("--public-host", default="",
                   help="host name clients use when it is not --host (e.g. the docker-compose service name)")
    for name in ("tenant-id", "client-id", "client-secret"):  # default: derived from --seed
        p.add_argument(f"--{name}", default="", help=f"the app registration's {name.replace('-', ' ')} (default: from --seed)")


def _config_from(args: argparse.Namespace) -> EmulatorConfig:
    faults = FaultConfig(
        rate_429=args.fault_429, rate_500=args.fault_500, rate_503=args.fault_503,
        rate_reset=args.fault_reset, rate_truncate=args.fault_truncate, rate_slow=args.fault_slow,
    )
    for rate in (faults.rate_429, faults.rate_500, faults.rate_503, faults.rate_reset,
                 faults.rate_truncate, faults.rate_slow):
        if not 0.0 <= rate <= 1.0:
            raise SystemExit(f"fault rates are probabilities between 0 and 1, got {rate}")
    token_faults = FaultConfig(rate_429=args.token_fault_429, rate_500=args.token_fault_500,
                               rate_503=args.token_fault_503, rate_slow=args.token_fault_slow)
    for rate in (token_faults.rate_429, token_faults.rate_500, token_faults.rate_503, token_faults.rate_slow):
        if not 0.0 <= rate <= 1.0:
            raise SystemExit(f"fault rates are probabilities between 0 and 1, got {rate}")
    if args.scale < 1:
        raise SystemExit(f"--scale must be at least 1, got {args.scale}")
    untracked = tuple(t.strip() for t in args.untracked.split(",") if t.strip())
    unknown = sorted(set(untracked) - set(HR_TABLES))
    if unknown:
        raise SystemExit(f"--untracked names unknown tables: {', '.join(unknown)} (known: {', '.join(HR_TABLES)})")
    return EmulatorConfig(
        host=args.host, port=args.port, seed=args.seed, scale=args.scale,
        latency_ms=args.latency_ms, latency_per_row_ms=args.latency_per_row_ms,
        protection_profile=args.protection, dop_hint=args.dop_hint,
        change_tracking_retention_days=args.retention_days, faults=faults,
        tables_without_change_tracking=untracked,
        urs_installed=not args.without_urs, hr_virtual_tables=not args.without_hr_virtual_tables,
        bookableresource_worker_lookup=not args.without_worker_lookup,
        withheld_privileges=tuple(args.withhold_privilege),
        state_dir=Path(args.state_dir), cloud=args.cloud, token_faults=token_faults,
        record_count_snapshot_max_age_seconds=args.record_count_snapshot_age,
        access_token_leeway_seconds=args.token_leeway, expired_token_body=args.expired_token_body,
        delta_token_mismatch=args.delta_token_mismatch, public_host=args.public_host,
        tenant_id=args.tenant_id, client_id=args.client_id, client_secret=args.client_secret,
    )


def serve(args: argparse.Namespace) -> int:
    from .server import EmulatorServer

    server = EmulatorServer(_config_from(args))
    line = json.dumps(server.info)
    if args.info_file:
        Path(args.info_file).write_text(line + "\n")
    print(line, flush=True)
    signal.signal(signal.SIGTERM, _interrupt)  # `kill` stops it as cleanly as Ctrl-C
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    return 0


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def mutate(args: argparse.Namespace) -> int:
    try:
        specs = json.loads(args.spec)
    except json.JSONDecodeError as exc:
        print(f"mutation spec is not valid JSON: {exc}", file=sys.stderr)
        return 2
    ctx = ssl.create_default_context(cafile=args.ca_bundle) if args.ca_bundle else None
    req = urllib.request.Request(
        args.url.rstrip("/") + "/_emulator/mutations", data=json.dumps(specs).encode(),
        headers={"Content-Type": "application/json"}, method="POST",
    )
    try:
        with urllib.request.urlopen(req, context=ctx, timeout=30) as resp:
            print(resp.read().decode())
    except urllib.error.HTTPError as exc:
        print(f"emulator refused the mutation ({exc.code}): {exc.read().decode()}", file=sys.stderr)
        return 1
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dataverse_emulator", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    _serve_parser(sub)
    m = sub.add_parser("mutate", help="apply HR changes to a running emulator")
    m.add_argument("spec", help='JSON object or list, e.g. {"action":"change_job_title","worker_number":"000001","title":"Lead"}')
    m.add_argument("--url", required=True, help="the emulator's dataverse_url")
    m.add_argument("--ca-bundle", help="the emulator's ca_bundle")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return serve(args) if args.command == "serve" else mutate(args)

"""Who may read what in ClickHouse: roles, row policies and grants, from a config file.

    incidents access render [--config access.yaml] [--format sql|users-xml]
    incidents access apply  [--config access.yaml] [--dry-run]
    (until `access` is wired into incidents/cli/main.py: python -m incidents.warehouse.access ...)

Roles (names carry the configured prefix, ``incidents_`` by default):

- ``incidents_federal``: reads every row of every table (federal staff);
- ``incidents_region_<code>``: reads only its region's rows, on every table and
  aggregate that has a ``region`` column, and nothing else (no dead letters, no
  insert audit: both name mentions of every region);
- ``incidents_grafana``: read-only sessions with query limits (a settings
  profile); a Grafana data source logs in as a user holding it *and* one scope
  role (federal or a region);
- ``incidents_writer``: the pipeline (sink, migrations, verify): DDL, inserts and
  reads of everything.

Row policies make the region boundary a property of ClickHouse, not of Grafana:
a dashboard edited by hand, an ad-hoc query or another tool sees the same rows.
Every regional table also gets a permissive ``USING 0`` policy for everyone but
the configured administrators, so a user who holds no scope role reads nothing
even on servers where ``users_without_row_policies_can_read_rows`` is true (the
default since ClickHouse 24.1). Permissive policies combine with OR, so the deny
policy takes nothing away from the scope roles.

chDB (the embedded engine) has no writable access storage: it cannot run CREATE
ROLE or CREATE ROW POLICY. It does enforce row filters declared in a users.xml
file, the same row-policy machinery; ``--format users-xml`` renders those, and
the oversight tests use them to show a regional user's view on the pipeline's
own data (docs/oversight.md).
"""

from __future__ import annotations

import argparse
import csv
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import yaml

from incidents.config.command import Failure, OneLineParser, UsageError
from incidents.config.settings import load_settings
from incidents.domain.places.gazetteer import REGIONS_CSV
from incidents.warehouse.migrations import Rendering, load_migrations
from incidents.warehouse.writer import connect

REGION_CODE = re.compile(r"^RU-[A-Z]{2,3}$")
NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

#: Query limits of the Grafana role (a settings profile). readonly = 2: no writes or
#: DDL, but per-query settings stay allowed (the Grafana plugin sends some).
READONLY_SETTINGS: dict[str, int | str] = {
    "readonly": 2,
    "max_execution_time": 60,
    "max_result_rows": 1_000_000,
    "result_overflow_mode": "break",
    "max_memory_usage": 4_000_000_000,
}


class AccessError(ValueError):
    """The access config is wrong; the message names the field."""


@dataclass(frozen=True)
class User:
    """A ClickHouse user created with the roles it may use (all granted as default)."""

    name: str
    roles: tuple[str, ...]
    password_sha256_hex: str | None = None


@dataclass(frozen=True)
class AccessConfig:
    database: str = "incidents"
    cluster: str | None = None
    regions: tuple[str, ...] = ()
    prefix: str = "incidents_"
    admins: tuple[str, ...] = ("default",)
    users: tuple[User, ...] = ()
    readonly_settings: dict[str, int | str] = field(default_factory=lambda: dict(READONLY_SETTINGS))

    @classmethod
    def from_dict(cls, raw: dict[str, Any], database: str, cluster: str | None) -> AccessConfig:
        known = {"database", "cluster", "regions", "prefix", "admins", "users", "readonly_settings"}
        unknown = set(raw) - known
        if unknown:
            raise AccessError(f"unknown field(s) {sorted(unknown)}; known: {sorted(known)}")
        regions = tuple(raw.get("regions") or all_regions())
        for r in regions:
            if not REGION_CODE.match(str(r)):
                raise AccessError(f"regions: {r!r} is not an ISO 3166-2:RU code like RU-TVE")
        users = []
        for u in raw.get("users") or []:
            if not isinstance(u, dict) or "name" not in u:
                raise AccessError(f"users: {u!r} needs a name and roles")
            pw = u.get("password_sha256_hex")
            if pw is not None and not re.fullmatch(r"[0-9a-fA-F]{64}", str(pw)):
                raise AccessError(f"users.{u['name']}.password_sha256_hex: 64 hex digits expected")
            users.append(User(str(u["name"]), tuple(u.get("roles") or ()), pw))
        cfg = cls(
            database=str(raw.get("database") or database),
            cluster=raw.get("cluster", cluster) or None,
            regions=regions,
            prefix=str(raw.get("prefix", "incidents_")),
            admins=tuple(raw.get("admins", ("default",))),
            users=tuple(users),
            readonly_settings={**READONLY_SETTINGS, **(raw.get("readonly_settings") or {})},
        )
        cfg.check()
        return cfg

    @classmethod
    def load(
        cls, path: Path | None, database: str = "incidents", cluster: str | None = None
    ) -> AccessConfig:
        raw: dict[str, Any] = {}
        if path is not None:
            if not path.is_file():
                raise AccessError(f"no such access config: {path}")
            raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            if not isinstance(raw, dict):
                raise AccessError(f"{path}: expected a mapping at the top")
        return cls.from_dict(raw, database, cluster)

    def check(self) -> None:
        for what, name in [("database", self.database), *(("admins", a) for a in self.admins)]:
            if not NAME.match(name):
                raise AccessError(f"{what}: {name!r} is not a plain identifier")
        if self.prefix and not NAME.match(self.prefix):
            raise AccessError(f"prefix: {self.prefix!r} is not a plain identifier")
        roles = set(self.role_names())
        for u in self.users:
            if not NAME.match(u.name):
                raise AccessError(f"users: {u.name!r} is not a plain identifier")
            missing = set(u.roles) - roles
            if missing:
                raise AccessError(f"users.{u.name}: unknown role(s) {sorted(missing)}")

    # ------------------------------------------------------------ names
    @property
    def federal(self) -> str:
        return f"{self.prefix}federal"

    @property
    def grafana(self) -> str:
        return f"{self.prefix}grafana"

    @property
    def writer(self) -> str:
        return f"{self.prefix}writer"

    @property
    def profile(self) -> str:
        return f"{self.prefix}readonly"

    def region_role(self, region: str) -> str:
        return f"{self.prefix}region_{region.lower().replace('-', '_')}"

    def role_names(self) -> list[str]:
        return [self.federal, self.grafana, self.writer, *map(self.region_role, self.regions)]


def all_regions() -> list[str]:
    """Every region of the bundled gazetteer (without loading the place finder)."""
    with open(REGIONS_CSV, encoding="utf-8", newline="") as f:
        return sorted(row["code"] for row in csv.DictReader(f))


def tables() -> tuple[list[str], list[str]]:
    """(tables with a region column, tables without one), from the migrations."""
    regional: list[str] = []
    other: list[str] = []
    for mig in load_migrations():
        for stmt in mig.statements(Rendering("db", 1)):
            m = re.match(r"^CREATE TABLE IF NOT EXISTS db\.(\w+)\s", stmt)
            if m:
                has_region = re.search(r"^\s+region\s", stmt, re.M)
                (regional if has_region else other).append(m.group(1))
    return regional, other


def quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def region_predicate(region: str) -> str:
    """The row condition of a regional role; also what users.xml filters and tests use."""
    return f"region = {quote(region)}"


# ------------------------------------------------------------------ SQL
def render_sql(cfg: AccessConfig) -> list[str]:
    """Every statement, in an order a server accepts; idempotent (safe to apply again)."""
    regional, _ = tables()
    on = f" ON CLUSTER '{cfg.cluster}'" if cfg.cluster else ""
    dbs = [cfg.database]
    if cfg.cluster:
        dbs.append(Rendering(cfg.database, 1, cfg.cluster).local_database)
    qualified = [f"{db}.{t}" for db in dbs for t in regional]
    on_tables = ", ".join(qualified)
    out: list[str] = []

    settings = ", ".join(
        f"{k} = {v if isinstance(v, int) else quote(str(v))}"
        for k, v in cfg.readonly_settings.items()
    )
    out.append(f"CREATE SETTINGS PROFILE OR REPLACE {cfg.profile}{on} SETTINGS {settings}")
    for role in cfg.role_names():
        out.append(f"CREATE ROLE IF NOT EXISTS {role}{on}")
    out.append(f"ALTER ROLE {cfg.grafana}{on} SETTINGS PROFILE {quote(cfg.profile)}")

    # Grants. Readers get SELECT on the Distributed side only (on a cluster the local
    # tables are for the pipeline); a region reads regional tables and nothing else.
    for db in dbs:
        out.append(
            f"GRANT{on} SELECT, INSERT, ALTER, CREATE TABLE, CREATE VIEW, DROP VIEW, "
            f"CREATE DATABASE ON {db}.* TO {cfg.writer}"
        )
    if cfg.cluster:
        out.append(f"GRANT{on} CLUSTER ON *.* TO {cfg.writer}")
    out.append(f"GRANT{on} SELECT ON {cfg.database}.* TO {cfg.federal}")
    for region in cfg.regions:
        for t in regional:
            out.append(f"GRANT{on} SELECT ON {cfg.database}.{t} TO {cfg.region_role(region)}")

    # Row policies, on every table with a region column (both sides on a cluster).
    everyone = f"ALL EXCEPT {', '.join(cfg.admins)}" if cfg.admins else "ALL"
    out.append(
        f"CREATE ROW POLICY OR REPLACE {cfg.prefix}deny{on} ON {on_tables} "
        f"AS PERMISSIVE FOR SELECT USING 0 TO {everyone}"
    )
    out.append(
        f"CREATE ROW POLICY OR REPLACE {cfg.prefix}all_rows{on} ON {on_tables} "
        f"AS PERMISSIVE FOR SELECT USING 1 TO {cfg.federal}, {cfg.writer}"
    )
    for region in cfg.regions:
        role = cfg.region_role(region)
        out.append(
            f"CREATE ROW POLICY OR REPLACE {role}{on} ON {on_tables} "
            f"AS PERMISSIVE FOR SELECT USING {region_predicate(region)} TO {role}"
        )

    for u in cfg.users:
        ident = (
            f" IDENTIFIED WITH sha256_hash BY {quote(u.password_sha256_hex)}"
            if u.password_sha256_hex
            else ""
        )
        out.append(f"CREATE USER IF NOT EXISTS {u.name}{on}{ident}")
        if u.roles:
            out.append(f"GRANT{on} {', '.join(u.roles)} TO {u.name}")
            out.append(f"ALTER USER {u.name}{on} DEFAULT ROLE {', '.join(u.roles)}")
    return out


# ------------------------------------------------------------- users.xml
def users_xml(
    cfg: AccessConfig,
    user: str,
    region: str | None,
    password: str = "",
    networks: Sequence[str] = ("::1", "127.0.0.1"),
) -> str:
    """A users.xml defining one read-only user: one region's view, or the federal one.

    The same grants and row conditions as the SQL roles, in the form a
    configuration file can carry: ``<grants>`` (the region's tables only, or the
    whole database for region None), ``<databases><db><table><filter>`` (ClickHouse
    turns each into a row policy of the user, storage users_xml) and the read-only
    profile. chDB reads this file, so it enforces a regional user's view where it
    cannot run CREATE ROLE or CREATE ROW POLICY.
    """
    regional, _ = tables()
    db = cfg.database
    nets = "".join(f"<ip>{escape(n)}</ip>" for n in networks)
    if region is None:
        grants = f"<query>GRANT SELECT ON {db}.*</query>"
        filters = ""
    else:
        grants = "".join(f"<query>GRANT SELECT ON {db}.{t}</query>" for t in regional)
        cond = escape(region_predicate(region))
        inner = "".join(f"<{t}><filter>{cond}</filter></{t}>" for t in regional)
        filters = f"<databases><{db}>{inner}</{db}></databases>"
    limits = "".join(f"<{k}>{escape(str(v))}</{k}>" for k, v in cfg.readonly_settings.items())
    return (
        "<clickhouse>\n"
        f"  <profiles><default/><{cfg.profile}>{limits}</{cfg.profile}></profiles>\n"
        "  <quotas><default/></quotas>\n"
        "  <users>\n"
        f"    <{user}>\n"
        f"      <password>{escape(password)}</password>\n"
        f"      <networks>{nets}</networks>\n"
        f"      <profile>{cfg.profile}</profile>\n"
        "      <quota>default</quota>\n"
        f"      <grants>{grants}</grants>\n"
        f"      {filters}\n"
        f"    </{user}>\n"
        "  </users>\n"
        "</clickhouse>\n"
    )


# ------------------------------------------------------------------ CLI
def add_parser(sub: Any) -> argparse.ArgumentParser:
    """`incidents access`: for incidents/cli/main.py's subparsers (and
    `python -m incidents.warehouse.access`)."""
    sp = sub.add_parser("access", help="ClickHouse roles and row policies for oversight users")
    sp.add_argument("action", choices=["render", "apply"])
    sp.add_argument("--config", type=Path, help="access YAML (default: every region, no users)")
    sp.add_argument("--format", choices=["sql", "users-xml"], default="sql", help="render only")
    sp.add_argument("--user", default="default", help="users-xml: the user to define")
    sp.add_argument("--region", help="users-xml: limit the user to this region")
    sp.add_argument("--dry-run", action="store_true", help="apply: print, do not execute")
    sp.set_defaults(fn=cmd_access)
    return sp


def cmd_access(args: argparse.Namespace) -> int:
    s = load_settings()
    try:
        cfg = AccessConfig.load(args.config, s.clickhouse.database, s.clickhouse.cluster)
    except AccessError as exc:
        raise UsageError(f"access config: {exc}") from None
    if args.action == "render":
        if args.format == "users-xml":
            if args.region and args.region not in cfg.regions:
                raise UsageError(f"--region {args.region}: not among the configured regions")
            sys.stdout.write(users_xml(cfg, args.user, args.region))
        else:
            sys.stdout.write("".join(stmt + ";\n" for stmt in render_sql(cfg)))
        return 0
    statements = render_sql(cfg)
    if args.dry_run:
        sys.stdout.write("".join(stmt + ";\n" for stmt in statements))
        return 0
    if s.clickhouse.embedded:
        raise Failure(
            "chDB (embedded) has no SQL access storage: apply to a ClickHouse server "
            "(INCIDENTS_CLICKHOUSE_URL=https://...), or render --format users-xml "
            "(docs/oversight.md)"
        )
    client = connect(s.clickhouse)
    try:
        for stmt in statements:
            try:
                client.command(stmt)
            except Exception as exc:
                raise Failure(f"{stmt[:80]}…: {str(exc).splitlines()[0]}") from None
    finally:
        client.close()
    print(f"applied {len(statements)} statement(s): roles {', '.join(cfg.role_names()[:4])}…")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = OneLineParser(prog="python -m incidents.warehouse.access")
    sub = parser.add_subparsers(dest="command", parser_class=OneLineParser)
    add_parser(sub)
    try:
        args = parser.parse_args(["access", *(argv if argv is not None else sys.argv[1:])])
        return int(args.fn(args) or 0)
    except UsageError as exc:
        print(f"incidents access: error: {exc}", file=sys.stderr)
        return 2
    except Failure as exc:
        print(f"incidents access: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())

"""One typed settings tree for every process: worker, CLI, connectors.

Values come, highest priority first, from ``INCIDENTS_*`` environment
variables (``INCIDENTS_KAFKA_BOOTSTRAP``, ``INCIDENTS_CLICKHOUSE_URL``,
``INCIDENTS_DEDUP_WINDOW_DAYS`` ...: prefix, section, field), then from an
optional YAML file named by ``INCIDENTS_CONFIG`` (deployment tables such as
routing and SLA calendars live there), then from the defaults below, which
describe the embedded stack: tansu on loopback and chDB under ``var/``.

Nothing reads ``os.environ`` elsewhere: the tree is built once by
:func:`load_settings` and passed down explicitly. The sections domain code runs
by (``enrich``, ``dedup``, ``grouping``, ``sla``) are defined, frozen, in
``incidents/domain/policy.py``: a domain module is handed its policy and never
imports this tree.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
    YamlConfigSettingsSource,
)

from incidents.config.connectors import env_names as connector_env_names
from incidents.config.env import ConfigError, reject_unknown
from incidents.contracts.topology import STAGES, Stage
from incidents.domain.policy import (
    CommaList,
    DedupSettings,
    EnrichSettings,
    GroupingSettings,
    SlaSettings,
    comma_list,
)

#: A worker runs some of the pipeline's stages (incidents/contracts/topology.py), all by default.
Role = Stage
ROLES: tuple[Role, ...] = STAGES


class KafkaSettings(BaseModel):
    bootstrap: str = Field(
        "127.0.0.1:19092",
        description="comma-separated host:port list; the embedded broker listens here by default",
    )
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        "PLAINTEXT", description="how clients talk to the brokers"
    )
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = Field(
        None, description="with SASL_* protocols"
    )
    sasl_username: str | None = Field(None, description="SASL user")
    sasl_password: SecretStr | None = Field(None, description="SASL password (secret)")
    ssl_cafile: Path | None = Field(None, description="CA bundle for SSL/SASL_SSL")
    # Tuned for fast group formation (~3 s instead of ~30 s); see docs/operations.md.
    session_timeout_s: float = Field(
        6.0,
        gt=0,
        description="consumer group session; 6 s forms groups in ~3 s (use 30 on big clusters)",
    )
    heartbeat_interval_s: float = Field(1.0, gt=0, description="consumer heartbeat")
    rebalance_timeout_s: float = Field(5.0, gt=0, description="how long a rebalance may take")
    commit_interval_s: float = Field(1.0, gt=0, description="how often acked offsets are committed")
    broker: Literal["auto", "kafka", "tansu"] = Field(
        "auto",
        description="whose offset gaps to expect: tansu (every jump is a hole, restart), kafka "
        "(a jump is checked: transaction markers are not holes); auto tells tansu by its "
        "cluster id",
    )

    @field_validator("bootstrap")
    @classmethod
    def _hosts(cls, v: str) -> str:
        hosts = [h.strip() for h in v.split(",") if h.strip()]
        if not hosts:
            raise ValueError("must list at least one host:port")
        for h in hosts:
            host, sep, port = h.rpartition(":")
            if not sep or not host or not port.isdigit():
                raise ValueError(f"{h!r} is not host:port")
        return ",".join(hosts)

    def hosts(self) -> list[str]:
        return self.bootstrap.split(",")

    def librdkafka(self) -> dict[str, Any]:
        """The same connection rendered as librdkafka's dotted keys (confluent-kafka)."""
        conf: dict[str, Any] = {
            "bootstrap.servers": self.bootstrap,
            "security.protocol": self.security_protocol,
        }
        if self.sasl_mechanism:
            conf["sasl.mechanism"] = self.sasl_mechanism
        if self.sasl_username:
            conf["sasl.username"] = self.sasl_username
        if self.sasl_password:
            conf["sasl.password"] = self.sasl_password.get_secret_value()
        if self.ssl_cafile:
            conf["ssl.ca.location"] = str(self.ssl_cafile)
        return conf


class TopicSettings(BaseModel):
    prefix: str = Field("", description="prepended to every topic name, e.g. 'tver.'")
    partitions: int = Field(
        4, ge=1, le=1024, description="partitions of every topic (the stateful ones must be equal)"
    )
    replication_factor: int = Field(
        1, ge=1, description="replicas of every topic (3 in production)"
    )
    raw_retention_hours: int = Field(
        72, ge=1, description="mentions.raw holds raw author ids: keep it short (152-FZ)"
    )
    retention_days: int = Field(14, ge=1, description="retention of the other non-compacted topics")

    def name(self, base: str) -> str:
        return f"{self.prefix}{base}"


class ClickHouseSettings(BaseModel):
    url: str = Field(
        "chdb://var/clickhouse",
        description="chdb:///abs/path, chdb://relative/path, chdb://memory or http(s)://host:port",
    )
    database: str = Field("incidents", pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", description="database")
    user: str | None = Field(None, description="user for http(s):// servers")
    password: SecretStr | None = Field(None, description="password (secret)")
    cluster: str | None = Field(None, description="render migrations ON CLUSTER with Replicated*")
    batch_rows: int = Field(10_000, ge=1, description="most rows per insert")
    flush_interval_s: float = Field(1.0, gt=0, description="longest wait to fill a batch")
    retry_max_s: float = Field(30.0, gt=0, description="longest backoff between insert retries")
    ttl_days: int = Field(
        730,
        ge=1,
        le=25_000,
        description="retention of the ClickHouse tables, days: the sink does not store "
        "facts older than that (counted, docs/oversight.md#retention); raising it raises "
        "the tables' TTL at the next migrate; at most 25,000 (DateTime ends in 2106)",
    )

    @field_validator("url")
    @classmethod
    def _scheme(cls, v: str) -> str:
        if not v.startswith(("chdb://", "http://", "https://")):
            raise ValueError(f"must start with chdb://, http:// or https:// (got {v!r})")
        return v

    @property
    def embedded(self) -> bool:
        return self.url.startswith("chdb://")

    def resolved_url(self) -> str:
        """chdb:// paths made absolute, so a worker and a report agree on the directory."""
        if not self.embedded:
            return self.url
        rest = self.url[len("chdb://") :]
        if rest in ("", "memory", ":memory:"):
            return "chdb://memory"
        return "chdb://" + str(Path(rest).expanduser().resolve())

    def data_path(self) -> Path | None:
        url = self.resolved_url()
        if url == "chdb://memory" or not self.embedded:
            return None
        return Path(url[len("chdb://") :])


class WorkerSettings(BaseModel):
    app_id: str = Field(
        "incidents",
        pattern=r"^[A-Za-z0-9_.-]+$",
        description="consumer group base name; workers with other role sets get a suffix",
    )
    roles: Annotated[list[Role], CommaList] = Field(
        default_factory=lambda: list(ROLES),
        description="which agents this process runs (comma-separated in the env)",
    )
    web_host: str = Field(
        "127.0.0.1", description="bind address of /healthz /readyz /metrics /status"
    )
    web_port: int = Field(6066, ge=0, le=65535, description="port of the web endpoints")
    store: str = Field("memory://", description="Faust table store: memory:// or rocksdb://")
    data_dir: Path = Field(
        Path("var/worker"), description="Faust data (RocksDB tables) and the crash counters"
    )
    batch_size: int = Field(500, ge=1, description="messages per processing batch")
    batch_within_s: float = Field(0.2, gt=0, description="longest wait to fill a batch")
    crash_exit_s: float = Field(
        15.0,
        gt=0,
        description="after an agent crash, the process ends within this many seconds even if "
        "Faust's shutdown hangs",
    )
    gap_restarts: int = Field(
        5,
        ge=0,
        description="after an offset gap, restart in place (same process) this many times in a "
        "row before exiting 1 for the orchestrator",
    )

    _roles = field_validator("roles", mode="before")(comma_list)


class DlqSettings(BaseModel):
    """The dead-letter limit (incidents/kafka/dlq.py): a bad deploy stops the worker instead of
    dead-lettering the stream; a producer's invalid input on an outside topic is flagged
    while the worker serves the rest."""

    max_invalid_ratio: float = Field(
        0.5,
        gt=0,
        le=1,
        description="over the limit when more than this share of the window is invalid: "
        "the pipeline's own failures stop the worker, a producer's invalid input on an "
        "outside topic flags the topic (docs/operations.md#the-dead-letter-limit)",
    )
    window: int = Field(1000, ge=10, description="messages in the sliding window")
    min_messages: int = Field(200, ge=1, description="the ratio applies from this many messages")
    max_consecutive: int = Field(
        500, ge=1, description="over the limit after this many invalid in a row"
    )


class FaultSettings(BaseModel):
    """Fault injection for the fault-injection tests and game days; all off by default."""

    clickhouse_down_file: Path | None = Field(
        None, description="while this file exists, every ClickHouse call fails (an outage)"
    )
    crash_marker: str | None = Field(
        None, description="an agent crashes on a batch containing this text (crash handling)"
    )
    fail_marker: str | None = Field(
        None,
        description="the enrich step fails on a post whose text contains this text, as a bug "
        "in domain code would (the post is dead-lettered alone, the batch goes on)",
    )
    gap_file: Path | None = Field(
        None,
        description="while this file exists, the next batch reports an offset gap and the "
        "file is removed (a one-off broker gap)",
    )
    skip_file: Path | None = Field(
        None,
        description="while this file exists, the consumer seeks 3 records past where it has "
        "fetched on one partition and the file is removed (a real hole in what it reads); "
        "a topic's base name in the file limits it to that topic",
    )
    lossy: bool = Field(
        False,
        description="NEGATIVE CONTROL ONLY: ack batches without waiting for the broker "
        "(loses messages on kill -9); never in production",
    )
    unguarded: bool = Field(
        False,
        description="NEGATIVE CONTROL ONLY: commit across offset jumps without checking "
        "them for holes; never in production",
    )


class ConsoleSettings(BaseModel):
    """The operator console (`incidents console`, docs/console.md)."""

    web_host: str = Field("127.0.0.1", description="bind address of the console")
    web_port: int = Field(6080, ge=0, le=65535, description="port of the console")
    users_file: Path | None = Field(
        None,
        description="YAML with the console's users (role, regions, scrypt password hash) and, "
        "for header auth, groups; default: the built-in demo users (loopback only)",
    )
    auth: Literal["local", "header"] = Field(
        "local",
        description="local: login form against users_file; header: a forward-auth proxy "
        "(OIDC/SSO) in front names the user in a header",
    )
    auth_user_header: str = Field(
        "X-Forwarded-User", description="header auth: the header naming the user"
    )
    auth_groups_header: str = Field(
        "X-Forwarded-Groups",
        description="header auth: comma-separated groups, mapped to role and regions by "
        "users_file `groups`",
    )
    trusted_proxies: Annotated[list[str], CommaList] = Field(
        default_factory=lambda: ["127.0.0.1", "::1"],
        description="header auth: peer addresses whose user header is believed",
    )
    cookie_secure: bool = Field(
        True, description="session cookie only over HTTPS (browsers exempt http://127.0.0.1)"
    )
    session_hours: float = Field(12.0, gt=0, description="a login lasts this long")
    login_attempts: int = Field(
        5, ge=1, description="failed logins per user name and per address before a pause"
    )
    login_window_s: float = Field(
        300.0, gt=0, description="the window (and pause) of the login limit"
    )
    clock: Literal["wall", "events"] = Field(
        "wall",
        description="SLA time left counted to the wall clock, or to the newest event time "
        "seen in the region (replays of history, the demo)",
    )
    page_size: int = Field(100, ge=10, le=1000, description="queue rows per page")

    _proxies = field_validator("trusted_proxies", mode="before")(comma_list)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="INCIDENTS_",
        env_nested_delimiter="_",
        env_nested_max_split=1,
        extra="forbid",
    )

    kafka: KafkaSettings = KafkaSettings()
    topics: TopicSettings = TopicSettings()
    clickhouse: ClickHouseSettings = ClickHouseSettings()
    worker: WorkerSettings = WorkerSettings()
    dlq: DlqSettings = DlqSettings()
    enrich: EnrichSettings = EnrichSettings()
    dedup: DedupSettings = DedupSettings()
    grouping: GroupingSettings = GroupingSettings()
    sla: SlaSettings = SlaSettings()
    faults: FaultSettings = FaultSettings()
    console: ConsoleSettings = ConsoleSettings()
    log: Literal["json", "console"] = Field("json", description="log format")
    loglevel: Literal["debug", "info", "warning", "error"] = Field("info", description="log level")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = os.environ.get("INCIDENTS_CONFIG")
        if config_file:
            sources.append(YamlConfigSettingsSource(settings_cls, yaml_file=config_file))
        return tuple(sources)


def _one_line(err: ValidationError) -> str:
    first = err.errors()[0]
    loc = [str(p) for p in first["loc"] if not str(p).isdigit()]
    var = "INCIDENTS_" + "_".join(loc).upper() if loc else "INCIDENTS_*"
    msg = first["msg"].removeprefix("Value error, ")
    if first["type"] == "extra_forbidden":
        return f"{var}: unknown setting"
    given = first.get("input")
    if isinstance(given, str | int | float) and first["type"] != "missing" and "got" not in msg:
        return f"{var}: {msg} (got {given!r})"
    return f"{var}: {msg}"


def known_env_names() -> set[str]:
    names = {"INCIDENTS_CONFIG"}
    for section, info in Settings.model_fields.items():
        sub = info.annotation
        if isinstance(sub, type) and issubclass(sub, BaseModel):
            names.update(f"INCIDENTS_{section}_{f}".upper() for f in sub.model_fields)
        else:
            names.add(f"INCIDENTS_{section}".upper())
    return names | connector_env_names()  # the connectors' own tree, checked here too


def _check_env_names() -> None:
    reject_unknown(os.environ, "INCIDENTS_", known_env_names())


def load_settings(**overrides: Any) -> Settings:
    """Build the tree, turning any validation error into one clear line."""
    _check_env_names()
    config_file = os.environ.get("INCIDENTS_CONFIG")
    if config_file and not Path(config_file).is_file():
        raise ConfigError(f"INCIDENTS_CONFIG: no such file {config_file!r}")
    try:
        return Settings(**overrides)
    except ValidationError as err:
        raise ConfigError(_one_line(err)) from None
    except SettingsError as err:
        # pydantic-settings could not parse a JSON value (a dict) from the env
        section = str(err).split('"')[1] if '"' in str(err) else ""
        names = [n for n in os.environ if n.startswith(f"INCIDENTS_{section.upper()}_")]
        where = ", ".join(sorted(names)) or f"INCIDENTS_{section.upper()}_*"
        raise ConfigError(f"{where}: not valid JSON for a table setting") from None


def reference() -> list[tuple[str, str, str]]:
    """(env name, default, description) of every setting; docs/configuration.md shows it."""
    return effective(Settings.model_construct())


def effective(settings: Settings) -> list[tuple[str, str, str]]:
    """(env name, value, description) of a settings tree, secrets hidden."""
    rows: list[tuple[str, str, str]] = [
        ("INCIDENTS_CONFIG", "", "path to a YAML file with any of the settings below (env wins)")
    ]
    defaults = settings
    for section, info in Settings.model_fields.items():
        sub = info.annotation
        if isinstance(sub, type) and issubclass(sub, BaseModel):
            model = getattr(defaults, section)
            for name, field in sub.model_fields.items():
                value = getattr(model, name)
                shown = "(secret)" if isinstance(value, SecretStr) else _show(value)
                rows.append((f"INCIDENTS_{section}_{name}".upper(), shown, field.description or ""))
        else:
            rows.append((f"INCIDENTS_{section}".upper(), _show(getattr(defaults, section)), ""))
    return rows


def _show(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value)
    return str(value)

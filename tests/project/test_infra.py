"""Deployment files under infra/ agree with the code they deploy.

Pure Python: no Docker, no Kubernetes, no Helm. The chart's templates are
checked as YAML after their template actions are stripped (a real render
needs `helm template`, which the project does not install). promtool is not
installed by the project either (Debian's `prometheus` package ships it):
when it is on PATH, the promtool tests also check the rule file's PromQL and
run the alert scenarios below; otherwise they skip and the rule file is
checked for shape and metric names only.
"""

from __future__ import annotations

import fnmatch
import re
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from incidents.cli.main import COMMANDS
from incidents.config.settings import ROLES, Settings, known_env_names, load_settings
from incidents.kafka.topics import Topics, topic_config
from incidents.observability import metrics

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
CHART = INFRA / "helm" / "incidents"
RULES = INFRA / "prometheus" / "rules.yaml"
COMPOSE = INFRA / "docker-compose.yml"
TOPICS_YAML = INFRA / "kafka" / "topics.yaml"
STRIMZI_YAML = INFRA / "kafka" / "strimzi-topics.yaml"

#: Labels that Prometheus or the Kubernetes scrape adds to every series.
TARGET_LABELS = {"namespace", "job", "pod", "instance", "service", "container", "le"}
ENV_NAME = re.compile(r"\bINCIDENTS_[A-Z0-9_]+\b")


def _load(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _yaml_files() -> list[Path]:
    files = [*INFRA.rglob("*.yaml"), *INFRA.rglob("*.yml")]
    return sorted(p for p in files if "templates" not in p.relative_to(INFRA).parts)


# ------------------------------------------------------------------ YAML
@pytest.mark.parametrize("path", _yaml_files(), ids=lambda p: str(p.relative_to(INFRA)))
def test_every_infra_yaml_parses(path: Path) -> None:
    docs = [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d is not None]
    assert docs, f"{path} is empty"


def _helm_defines() -> dict[str, str]:
    """The bodies of the named templates in _helpers.tpl (nested blocks counted)."""
    text = (CHART / "templates" / "_helpers.tpl").read_text(encoding="utf-8")
    defines: dict[str, str] = {}
    name, start, depth = "", 0, 0
    for action in re.finditer(r"\{\{-?\s*(/\*.*?\*/|[^}]*?)\s*-?\}\}", text, flags=re.S):
        word = action.group(1).split(" ", 1)[0]
        if word == "define" and depth == 0:
            name, start, depth = action.group(1).split('"')[1], action.end(), 1
        elif word in {"if", "range", "with", "block", "define"}:
            depth += 1
        elif word == "end":
            depth -= 1
            if depth == 0 and name:
                defines[name], name = text[start : action.start()], ""
    return defines


def _strip_template(text: str) -> str:
    """Helm template → plain YAML: inline whole-line includes, drop actions, blank the rest."""
    defines = _helm_defines()
    text = re.sub(
        r'^\{\{ include "([\w.]+)"[^}]*\}\}$', lambda m: defines[m.group(1)], text, flags=re.M
    )
    text = re.sub(r"\{\{-?\s*/\*.*?\*/\s*-?\}\}", "", text, flags=re.S)
    lines = [line for line in text.splitlines() if not re.fullmatch(r"\s*\{\{.*\}\}\s*", line)]
    return re.sub(r"\{\{.*?\}\}", "X", "\n".join(lines))


TEMPLATES = sorted((CHART / "templates").glob("*.yaml"))


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.name)
def test_helm_template_is_yaml_once_actions_are_stripped(path: Path) -> None:
    docs = [d for d in yaml.safe_load_all(_strip_template(path.read_text())) if d]
    assert docs, f"{path.name} renders nothing"
    for doc in docs:
        assert {"apiVersion", "kind", "metadata"} <= set(doc), f"{path.name}: {sorted(doc)}"


def test_chart_has_the_expected_templates() -> None:
    names = {p.name for p in (CHART / "templates").iterdir()}
    assert {
        "_helpers.tpl",
        "workers.yaml",
        "service.yaml",
        "migrations-job.yaml",
        "topics-job.yaml",
        "configmap.yaml",
        "servicemonitor.yaml",
        "prometheusrule.yaml",
        "NOTES.txt",
    } <= names
    chart = _load(CHART / "Chart.yaml")
    assert chart["apiVersion"] == "v2" and chart["name"] == "incidents"


# ------------------------------------------------------- Prometheus rules
def _metric_names() -> set[str]:
    """Every series name the worker exposes, from the collectors in incidents.observability.metrics."""
    names: set[str] = set()
    for family in metrics.REGISTRY.collect():
        if family.type == "counter":
            names.add(family.name + "_total")
        elif family.type == "histogram":
            names.update(family.name + s for s in ("_bucket", "_sum", "_count"))
        else:
            names.add(family.name)
    return names


def _metric_labels() -> set[str]:
    labels: set[str] = set()
    for collector in vars(metrics).values():
        labels.update(getattr(collector, "_labelnames", ()))
    return labels


def _rules() -> list[dict[str, Any]]:
    return [rule for group in _load(RULES)["groups"] for rule in group["rules"]]


def _without_strings(expr: str) -> str:
    return re.sub(r"\"[^\"]*\"|'[^']*'", '""', expr)


def test_rule_file_has_the_prometheus_shape() -> None:
    doc = _load(RULES)
    assert set(doc) == {"groups"}
    names = [g["name"] for g in doc["groups"]]
    assert len(names) == len(set(names))
    for group in doc["groups"]:
        assert group["rules"], group["name"]
        for rule in group["rules"]:
            assert ("record" in rule) != ("alert" in rule), rule
            assert isinstance(rule["expr"], str) and rule["expr"].strip()
            if "alert" in rule:
                assert rule["labels"]["severity"] in {"critical", "warning", "info"}, rule["alert"]
                annotations = rule["annotations"]
                assert annotations["summary"] and annotations["description"], rule["alert"]
                assert re.fullmatch(r"docs/operations\.md#[a-z0-9-]+", annotations["runbook_url"])
            else:
                assert re.fullmatch(r"incidents:[a-z0-9_]+:[a-z0-9_]+", rule["record"])


def test_rules_use_only_metrics_that_exist() -> None:
    known = _metric_names()
    recorded = {r["record"] for r in _rules() if "record" in r}
    for rule in _rules():
        expr = _without_strings(rule["expr"])
        for name in re.findall(r"(?<![\w:])incidents_[a-z0-9_]+", expr):
            assert name in known, f"{rule.get('alert') or rule.get('record')}: no metric {name}"
        for name in re.findall(r"(?<![\w:])incidents:[a-z0-9_:]+", expr):
            assert name in recorded, (
                f"{rule.get('alert') or rule.get('record')}: {name} not recorded"
            )


def test_rules_use_only_labels_that_exist() -> None:
    known = _metric_labels() | TARGET_LABELS
    for rule in _rules():
        expr = _without_strings(rule["expr"])
        for clause in re.findall(r"\b(?:by|on|without|ignoring)\s*\(([^)]*)\)", expr):
            for label in filter(None, (s.strip() for s in clause.split(","))):
                assert label in known, f"{rule.get('alert') or rule.get('record')}: label {label}"
        for text in rule.get("annotations", {}).values():
            for label in re.findall(r"\$labels\.(\w+)", text):
                assert label in known, f"{rule['alert']}: annotation label {label}"


def test_the_required_alerts_are_there() -> None:
    exprs = {r["alert"]: r["expr"] for r in _rules() if "alert" in r}
    joined = "\n".join(exprs.values())
    for name in (
        "incidents_messages_in_total",
        "incidents_consumer_lag_messages",
        "incidents_dlq_total",
        "incidents_agent_up",
        "incidents_sink_errors_total",
        "incidents_sla_breaches_total",
        "incidents_stage_latency_seconds_bucket",
    ):
        assert name in joined or any(
            name in r["expr"] for r in _rules() if "record" in r and r["record"] in joined
        ), name
    assert "offset 1d" in exprs["IncidentsSlaBreachesRising"]


def test_runbook_anchors_exist_once_operations_doc_does() -> None:
    doc = ROOT / "docs" / "operations.md"
    if not doc.is_file():
        pytest.skip("docs/operations.md not written yet")
    slugs = set()
    for heading in re.findall(r"^#+\s+(.+?)\s*$", doc.read_text(encoding="utf-8"), flags=re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")
        slugs.add(slug)
    slugs.update(re.findall(r'<a (?:id|name)="([^"]+)"', doc.read_text(encoding="utf-8")))
    missing = {
        r["annotations"]["runbook_url"].split("#", 1)[1]
        for r in _rules()
        if "alert" in r and r["annotations"]["runbook_url"].split("#", 1)[1] not in slugs
    }
    assert not missing, f"docs/operations.md lacks sections for runbook anchors {sorted(missing)}"


def test_every_alert_has_its_own_runbook_entry() -> None:
    """An on-call engineer searches the alert's name: its entry has that heading."""
    anchors = {
        r["alert"]: r["annotations"]["runbook_url"].split("#", 1)[1]
        for r in _rules()
        if "alert" in r
    }
    assert {a: a.lower() for a in anchors} == anchors


def test_chart_ships_the_same_rules() -> None:
    assert _load(CHART / "files" / "prometheus-rules.yaml") == _load(RULES), (
        "cp infra/prometheus/rules.yaml infra/helm/incidents/files/prometheus-rules.yaml"
    )


needs_promtool = pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool not on PATH")


@needs_promtool
def test_promtool_accepts_the_rules() -> None:
    run = subprocess.run(
        ["promtool", "check", "rules", str(RULES)], capture_output=True, text=True, check=False
    )
    assert run.returncode == 0, run.stdout + run.stderr


def _series(name: str, values: str, **labels: str) -> dict[str, str]:
    body = ",".join(f'{k}="{v}"' for k, v in {"namespace": "tver", **labels}.items())
    return {"series": f"{name}{{{body}}}", "values": values}


def _firing(alert: str, at: str, **labels: str) -> dict[str, Any]:
    """A promtool check that `alert` fires at `at` with exactly these labels (none: silent)."""
    samples = []
    if labels:
        body = {"alertname": alert, "alertstate": "firing", "namespace": "tver", **labels}
        samples = [
            {
                "labels": "ALERTS{" + ",".join(f'{k}="{v}"' for k, v in body.items()) + "}",
                "value": 1,
            }
        ]
    return {
        "expr": f'ALERTS{{alertname="{alert}",alertstate="firing"}}',
        "eval_time": at,
        "exp_samples": samples,
    }


@needs_promtool
def test_alerts_fire_in_their_scenarios(tmp_path: Path) -> None:
    """promtool unit tests: each alert fires on its symptom (its labels; not its text)."""
    minutes = {
        "interval": "1m",
        "input_series": [
            # group stopped consuming mentions.enriched after 10 minutes
            _series(
                "incidents_messages_out_total", "0+10x40", stage="enrich", topic="mentions.enriched"
            ),
            _series(
                "incidents_messages_in_total",
                "0+10x10 100x30",
                stage="group",
                topic="mentions.enriched",
            ),
            _series(
                "incidents_messages_in_total", "0+100x40", stage="enrich", topic="mentions.raw"
            ),
            _series("incidents_dlq_total", "0+10x40", stage="enrich", error_kind="schema"),
            # sink-0 crashed at 10m and came back: the timestamp outlives the process
            *(
                _series("incidents_agent_up", "1x40", stage=stage, job=stage, instance="a:6066")
                for stage in ("group", "respond", "sink")
            ),
            _series(
                "incidents_agent_last_crash_timestamp_seconds",
                "_x11 600x30",
                stage="sink",
                reason="error",
                pod="sink-0",
            ),
            # the only enrich worker stopped after 20m
            _series("up", "1x20 0x20", job="enrich", instance="e:6066"),
            _series(
                "incidents_agent_up", "1x20 stale", stage="enrich", job="enrich", instance="e:6066"
            ),
            _series("incidents_sink_errors_total", "0+1x40", table="mentions"),
            _series("incidents_sink_rows_total", "0x40", table="mentions"),
            _series("incidents_stage_latency_seconds_bucket", "0x40", stage="group", le="0.5"),
            _series("incidents_stage_latency_seconds_bucket", "0+10x40", stage="group", le="1"),
            _series("incidents_stage_latency_seconds_bucket", "0+10x40", stage="group", le="+Inf"),
            _series(
                "incidents_consumer_lag_messages",
                "0+100x40",
                job="enrich",
                topic="mentions.raw",
                partition="0",
            ),
        ],
        "promql_expr_test": [
            _firing(
                "IncidentsPipelineStalled", "30m", severity="critical", topic="mentions.enriched"
            ),
            _firing("IncidentsDlqRatioHigh", "30m", severity="warning", stage="enrich"),
            _firing("IncidentsSinkFailing", "30m", severity="critical", table="mentions"),
            _firing("IncidentsStageLatencyHigh", "30m", severity="warning", stage="group"),
            _firing(
                "IncidentsConsumerLagGrowing",
                "30m",
                severity="warning",
                job="enrich",
                topic="mentions.raw",
            ),
            _firing(
                "IncidentsAgentCrashed", "20m", severity="critical", stage="sink", reason="error"
            ),
            _firing("IncidentsAgentCrashed", "30m"),  # 15 minutes later
            _firing(
                "IncidentsWorkerDown", "30m", severity="critical", job="enrich", instance="e:6066"
            ),
            _firing("IncidentsStageAbsent", "30m", severity="critical", stage="enrich"),
            _firing("IncidentsSlaBreachesRising", "30m"),
        ],
    }
    days = {
        "interval": "1m",
        "input_series": [
            # 6 breaches an hour for a day, then 24 an hour
            _series(
                "incidents_sla_breaches_total",
                "0+0.1x1440 144+0.4x600",
                sla="first_reaction",
                priority="normal",
            ),
            _series("incidents_agent_up", "1x1500 stale", stage="respond", pod="respond-0"),
            *(
                _series("incidents_agent_up", "1x2100", stage=s)
                for s in ("enrich", "group", "sink")
            ),
        ],
        "promql_expr_test": [
            _firing("IncidentsSlaBreachesRising", "23h"),
            _firing(
                "IncidentsSlaBreachesRising",
                "34h",
                severity="warning",
                sla="first_reaction",
                priority="normal",
            ),
            _firing("IncidentsStageAbsent", "24h"),
            # reported for the first 25 hours only, absent since
            _firing("IncidentsStageAbsent", "26h", severity="critical", stage="respond"),
            _firing("IncidentsStageAbsent", "34h", severity="critical", stage="respond"),
        ],
    }
    shutil.copy(RULES, tmp_path / "rules.yaml")
    spec = {"rule_files": ["rules.yaml"], "evaluation_interval": "1m", "tests": [minutes, days]}
    (tmp_path / "tests.yaml").write_text(yaml.safe_dump(spec))
    run = subprocess.run(
        ["promtool", "test", "rules", "tests.yaml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr


# ------------------------------------------------------------ environment
def _env_names(paths: list[Path]) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in paths:
        for name in ENV_NAME.findall(path.read_text(encoding="utf-8")):
            found.setdefault(name, set()).add(str(path.relative_to(ROOT)))
    return found


def _chart_files() -> list[Path]:
    return sorted(
        p for p in CHART.rglob("*") if p.is_file() and p.suffix in {".yaml", ".tpl", ".txt"}
    )


def test_every_env_var_in_the_chart_compose_and_image_is_a_setting() -> None:
    known = known_env_names()
    found = _env_names([*_chart_files(), COMPOSE, INFRA / "Dockerfile"])
    unknown = {name: sorted(where) for name, where in found.items() if name not in known}
    assert not unknown, f"not settings in incidents/config/settings.py: {unknown}"


def test_chart_sets_what_a_worker_needs() -> None:
    found = set(_env_names(_chart_files()))
    assert {
        "INCIDENTS_KAFKA_BOOTSTRAP",
        "INCIDENTS_KAFKA_SECURITY_PROTOCOL",
        "INCIDENTS_KAFKA_SASL_MECHANISM",
        "INCIDENTS_KAFKA_SASL_USERNAME",
        "INCIDENTS_KAFKA_SASL_PASSWORD",
        "INCIDENTS_CLICKHOUSE_URL",
        "INCIDENTS_CLICKHOUSE_USER",
        "INCIDENTS_CLICKHOUSE_PASSWORD",
        "INCIDENTS_CLICKHOUSE_CLUSTER",
        "INCIDENTS_ENRICH_PSEUDONYM_KEY",
        "INCIDENTS_TOPICS_PARTITIONS",
        "INCIDENTS_TOPICS_REPLICATION_FACTOR",
        "INCIDENTS_SLA_TICK_INTERVAL_S",
        "INCIDENTS_WORKER_ROLES",
        "INCIDENTS_WORKER_WEB_HOST",
        "INCIDENTS_WORKER_WEB_PORT",
        "INCIDENTS_WORKER_STORE",
        "INCIDENTS_WORKER_DATA_DIR",
        "INCIDENTS_CONFIG",
        "INCIDENTS_LOG",
    } <= found


def test_probe_paths_are_served_by_the_worker() -> None:
    app = (ROOT / "incidents" / "stream" / "health.py").read_text(encoding="utf-8")
    values = _load(CHART / "values.yaml")["workerDefaults"]
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        path = values[probe]["httpGet"]["path"]
        assert f'@app.page("{path}")' in app, (
            f"{probe}: {path} is not a page of incidents/stream/health.py"
        )
    assert '@app.page("/metrics")' in app


def test_commands_used_by_the_deployment_exist() -> None:
    used = {"worker"}
    used.update(
        re.findall(r'"command" "(\w+)"', (CHART / "templates" / "migrations-job.yaml").read_text())
    )
    used.update(
        re.findall(r'"command" "(\w+)"', (CHART / "templates" / "topics-job.yaml").read_text())
    )
    for service in _load(COMPOSE)["services"].values():
        if service.get("image") == "incidents:dev" and service.get("command"):
            used.add(service["command"][0])
    assert used >= {"worker", "migrate", "topics", "replay"}
    assert used <= set(COMMANDS), used - set(COMMANDS)


def test_dockerfile_runs_the_cli_as_non_root() -> None:
    text = (INFRA / "Dockerfile").read_text(encoding="utf-8")
    assert "python:3.11-slim" in text
    assert 'ENTRYPOINT ["incidents"]' in text and 'CMD ["worker"]' in text
    users = re.findall(r"^USER\s+(\S+)", text, flags=re.M)
    assert users and not users[-1].startswith(("root", "0")), users
    # the image installs the runtime lock, then the package without resolving anything
    assert re.search(
        r"^RUN pip install --require-hashes --no-deps -r requirements/runtime.lock",
        text,
        flags=re.M,
    )
    assert re.search(r"^RUN pip install --no-deps --no-build-isolation \.", text, flags=re.M)


# ----------------------------------------------------------------- roles
def _worker_roles(workers: dict[str, Any]) -> dict[str, list[str]]:
    return {name: list(spec["roles"]) for name, spec in workers.items() if spec}


def _assert_one_group_per_role(roles: dict[str, list[str]]) -> None:
    seen: dict[str, str] = {}
    for worker, names in roles.items():
        assert names, f"{worker}: no roles"
        for role in names:
            assert role in ROLES, f"{worker}: unknown role {role!r}"
            assert role not in seen, f"role {role} runs in both {seen[role]} and {worker}"
            seen[role] = worker
    assert set(seen) == set(ROLES), f"no worker runs {set(ROLES) - set(seen)}"


def test_values_worker_roles_are_valid_and_run_once() -> None:
    values = _load(CHART / "values.yaml")
    _assert_one_group_per_role(_worker_roles(values["workers"]))
    group = next(spec for spec in values["workers"].values() if "group" in spec["roles"])
    assert group["store"] == "rocksdb" and group["persistence"]["enabled"], (
        "the group role's table belongs in RocksDB on a volume"
    )
    for name, spec in values["workers"].items():
        assert spec.get("store", values["workerDefaults"]["store"]) in {"memory", "rocksdb"}, name
        assert spec["replicas"] <= values["topics"]["partitions"], f"{name}: idle replicas"


def _compose_workers() -> dict[str, dict[str, str]]:
    services = _load(COMPOSE)["services"]
    return {
        name: {k: str(v) for k, v in service["environment"].items()}
        for name, service in services.items()
        if service.get("environment", {}).get("INCIDENTS_WORKER_ROLES")
    }


def test_compose_runs_one_worker_per_role() -> None:
    roles = {
        name: env["INCIDENTS_WORKER_ROLES"].split(",") for name, env in _compose_workers().items()
    }
    _assert_one_group_per_role(roles)


@pytest.mark.parametrize("service", sorted(_compose_workers()))
def test_compose_worker_environment_is_valid(service: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in _compose_workers()[service].items():
        monkeypatch.setenv(name, value)
    s = load_settings()
    assert s.worker.web_host == "0.0.0.0"
    assert s.clickhouse.url.startswith("http://") and not s.clickhouse.embedded
    assert not s.enrich.pseudonym_key.get_secret_value().startswith("dev-only")
    if "group" in s.worker.roles:
        assert s.worker.store == "rocksdb://"


# ---------------------------------------------------------------- topics
def _declared_topics() -> dict[str, dict[str, Any]]:
    doc = _load(TOPICS_YAML)
    topics = {t["name"]: t for t in doc["topics"]}
    assert len(topics) == len(doc["topics"]), "a topic is listed twice"
    return topics


def test_topics_yaml_lists_exactly_the_pipeline_topics() -> None:
    expected = set(Topics.from_settings(Settings()).all()) | {"desk.changelog", "dedup.changelog"}
    assert set(_declared_topics()) == expected


def test_topic_configs_match_streams_topics() -> None:
    s = Settings()
    declared = _declared_topics()
    for name, spec in Topics.from_settings(s).specs(s):
        configs = {k: str(v) for k, v in declared[name]["configs"].items()}
        for key, value in topic_config(spec).items():
            assert configs.get(key) == value, f"{name}: {key}={configs.get(key)}, code says {value}"
        assert configs["cleanup.policy"] == ("compact" if spec.compacted else "delete"), name
        if spec.retention_ms is None:
            assert "retention.ms" not in configs, name
    assert declared["desk.changelog"]["configs"]["cleanup.policy"] == "compact"
    assert declared["dedup.changelog"]["configs"]["cleanup.policy"] == "compact"


def test_topics_are_replicated_for_production() -> None:
    declared = _declared_topics()
    for name, topic in declared.items():
        isr = int(topic["configs"]["min.insync.replicas"])
        assert topic["replication"] >= 3 and 1 <= isr < topic["replication"], name
    co_partitioned = {
        declared[n]["partitions"] for n in ("mentions.deduped", "desk.commands", "desk.changelog")
    }
    assert len(co_partitioned) == 1, "the group stage's inputs and changelog need equal partitions"
    assert {t["partitions"] for t in declared.values()} == {
        _load(CHART / "values.yaml")["topics"]["partitions"]
    }


def test_strimzi_topics_render_topics_yaml() -> None:
    declared = _declared_topics()
    resources = [d for d in yaml.safe_load_all(STRIMZI_YAML.read_text()) if d]
    rendered = {r["spec"]["topicName"]: r for r in resources}
    assert set(rendered) == set(declared) and len(resources) == len(declared)
    for name, resource in rendered.items():
        assert (
            resource["apiVersion"] == "kafka.strimzi.io/v1beta2"
            and resource["kind"] == "KafkaTopic"
        )
        assert re.fullmatch(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?", resource["metadata"]["name"])
        assert resource["spec"]["partitions"] == declared[name]["partitions"]
        assert resource["spec"]["replicas"] == declared[name]["replication"]
        assert resource["spec"]["config"] == declared[name]["configs"], name


# ------------------------------------------------------------ packaging
def test_package_data_ships_every_data_file() -> None:
    """`pip install .` (the image) must carry every file the packages load at run time."""
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    patterns = setuptools["package-data"]["*"]
    # C sources are compiled into the package by ext-modules, not shipped as data.
    compiled = {src for ext in setuptools["ext-modules"] for src in ext["sources"]}
    missing = [
        str(path.relative_to(ROOT))
        for package in ("incidents",)
        for path in (ROOT / package).rglob("*")
        if path.is_file()
        and path.suffix not in {".py", ".pyc", ".so"}
        and str(path.relative_to(ROOT)) not in compiled
        and "__pycache__" not in path.parts
        and not any(fnmatch.fnmatch(path.name, p) for p in patterns)
    ]
    assert not missing, f"not installed by `pip install .`: {missing}"

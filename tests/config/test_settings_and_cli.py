"""A mistyped command or setting gets one clear line, not a traceback."""

from __future__ import annotations

import pytest

from incidents.cli.main import main
from incidents.config.settings import ConfigError, load_settings


def test_defaults_describe_the_embedded_stack() -> None:
    s = load_settings()
    assert s.clickhouse.url.startswith("chdb://") and s.clickhouse.embedded
    assert s.kafka.bootstrap.startswith("127.0.0.1:")
    assert set(s.worker.roles) == {"enrich", "dedup", "group", "respond", "sink"}


def test_pointing_at_real_clusters_needs_only_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INCIDENTS_KAFKA_BOOTSTRAP", "kafka-0:9092,kafka-1:9092")
    monkeypatch.setenv("INCIDENTS_CLICKHOUSE_URL", "https://ch.example:8443")
    monkeypatch.setenv("INCIDENTS_WORKER_ROLES", "enrich,group")
    s = load_settings()
    assert s.kafka.hosts() == ["kafka-0:9092", "kafka-1:9092"]
    assert not s.clickhouse.embedded and s.clickhouse.resolved_url() == "https://ch.example:8443"
    assert s.worker.roles == ["enrich", "group"]
    assert s.kafka.librdkafka()["bootstrap.servers"] == "kafka-0:9092,kafka-1:9092"


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        (
            "INCIDENTS_CLICKHOUSE_URL",
            "ftp://x",
            "INCIDENTS_CLICKHOUSE_URL: must start with chdb://",
        ),
        (
            "INCIDENTS_KAFKA_BOOTSTRAP",
            "nohost",
            "INCIDENTS_KAFKA_BOOTSTRAP: 'nohost' is not host:port",
        ),
        ("INCIDENTS_WORKER_ROLES", "enrich,bogus", "INCIDENTS_WORKER_ROLES:"),
        ("INCIDENTS_DEDUP_THRESHOLD", "abc", "INCIDENTS_DEDUP_THRESHOLD:"),
        (
            "INCIDENTS_CLICKHOUSE_ULR",
            "x",
            "unknown setting (did you mean INCIDENTS_CLICKHOUSE_URL?)",
        ),
    ],
)
def test_bad_settings_are_one_clear_line(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, expected: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert expected in str(err.value)
    assert "\n" not in str(err.value)


def test_cli_unknown_command_suggests_the_right_one(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["procss", "x.jsonl"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        "incidents: error: unknown command 'procss'; did you mean 'process'? "
        "(see `incidents --help`)"
    ]


def test_cli_config_error_is_one_line_exit_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("INCIDENTS_CLICKHOUSE_URL", "mysql://x")
    assert main(["report"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("incidents: config error: INCIDENTS_CLICKHOUSE_URL")


def test_cli_unknown_benchmark_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--only", "dedup,dedupe"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith("incidents: error: unknown benchmark(s): dedupe; known: process")


def test_cli_missing_input_file(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["process", "/nonexistent/in.jsonl"]) == 2
    assert (
        capsys.readouterr().err.strip()
        == "incidents: error: no such input file: /nonexistent/in.jsonl"
    )


def test_cli_unreachable_broker_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path
) -> None:  # type: ignore[no-untyped-def]
    f = tmp_path / "m.jsonl"
    f.write_text("{}\n")
    monkeypatch.setenv("INCIDENTS_KAFKA_BOOTSTRAP", "127.0.0.1:1")
    assert main(["replay", str(f), "--connect-timeout", "1"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cannot reach Kafka at 127.0.0.1:1" in err[0]


def test_configuration_doc_lists_every_setting_with_its_default() -> None:
    import subprocess
    import sys
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "configuration.md").read_text()
    table = doc.split("<!-- generated: incidents config --defaults --markdown -->\n", 1)[1]
    table = table.split("<!-- end generated -->", 1)[0]
    fresh = subprocess.run(
        [sys.executable, "-m", "incidents.cli.main", "config", "--defaults", "--markdown"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert table == fresh, "docs/configuration.md is stale: regenerate its table"


@pytest.mark.parametrize("top", ["-1", "-15", "many"])
def test_report_top_takes_a_whole_number_of_rows(
    top: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", "--top", top]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("incidents: error: argument --top: "), err

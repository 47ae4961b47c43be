"""A new user's mistakes end in one clear line and a non-zero exit, never a traceback or a flood.

Each case here was found by trying the commands as a newcomer would. Commands that
reach for Kafka or ClickHouse run as real subprocesses, so what is asserted is what
a terminal shows: librdkafka and chDB write to the process's stderr directly, below
anything pytest could capture in-process. Kafka is a closed loopback port (nothing
listens), ClickHouse a directory that is missing or a server that is not there.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from incidents.cli.main import build_parser, main
from incidents.kafka.embedded import free_port
from tests.support.paths import SAMPLE

MENTIONS = SAMPLE / "mentions.jsonl"


def _one_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


def _env(**settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("INCIDENTS_")}
    env.update({f"INCIDENTS_{k.upper()}": v for k, v in settings.items()})
    return env


def _run(
    args: list[str], cwd: Path, timeout: float = 120, **settings: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "incidents.cli.main", *args],
        env=_env(**settings),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


# ------------------------------------------------------------------ process
def test_process_into_a_missing_directory_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "missing" / "out.jsonl"
    assert main(["process", str(MENTIONS), "-o", str(out)]) == 2
    assert _one_line(capsys) == (
        f"incidents: error: -o {out}: directory {out.parent} does not exist"
    )


def test_process_into_a_directory_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["process", str(MENTIONS), "-o", str(tmp_path)]) == 2
    assert _one_line(capsys) == f"incidents: error: -o {tmp_path} is a directory: name a file"


def test_process_of_an_empty_file_says_so_and_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n\n")
    assert main(["process", str(empty)]) == 1
    assert _one_line(capsys) == f"incidents: {empty} is empty (no lines): nothing to process"


def test_process_of_a_binary_file_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    binary = tmp_path / "photo.jsonl"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    out = tmp_path / "out.jsonl"
    assert main(["process", str(binary), "-o", str(out)]) == 2
    assert "is a binary file, not JSONL text" in _one_line(capsys)
    assert not out.exists(), "nothing is written for a file that was never JSONL"


def test_process_of_a_directory_says_it_is_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["process", str(tmp_path)]) == 2
    assert _one_line(capsys).startswith(f"incidents: error: {tmp_path} is a directory")


def test_process_of_a_gz_that_is_not_gzip_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake = tmp_path / "m.jsonl.gz"
    fake.write_bytes(MENTIONS.read_bytes()[:2000])
    assert main(["process", str(fake)]) == 2
    assert _one_line(capsys) == f"incidents: error: {fake} is named .gz but is not gzip-compressed"
    real = tmp_path / "real.jsonl.gz"
    with gzip.open(real, "wb") as f:
        f.write(b"".join(MENTIONS.read_bytes().splitlines(keepends=True)[:5]))
    out = tmp_path / "out.jsonl"
    assert main(["process", str(real), "-o", str(out), "-q"]) == 0
    assert len(out.read_text().splitlines()) == 5


def test_process_where_no_line_is_a_mention_fails_but_keeps_every_result(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"label": "roads"}\nnot json\n')
    out = tmp_path / "out.jsonl"
    assert main(["process", str(bad), "-o", str(out), "-q"]) == 1
    assert _one_line(capsys) == (
        "incidents: none of the 2 lines is a valid RawMention (invalid_json=1, schema=1); "
        "each line's reason is in the output's `error`"
    )
    results = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["status"] for r in results] == ["rejected", "rejected"]


# ----------------------------------------------------------------- evaluate
def test_evaluate_categories_with_another_label_field_names_the_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    f = tmp_path / "labelled.jsonl"
    f.write_text(
        '{"text": "яма на дороге", "label": "roads"}\n{"text": "нет воды", "label": "utilities"}\n',
        encoding="utf-8",
    )
    assert main(["evaluate", "categories", str(f)]) == 2
    line = _one_line(capsys)
    assert "`category`" in line and "fields found: text, label" in line
    assert "--label-field" in line
    assert main(["evaluate", "categories", str(f), "--label-field", "label"]) == 0
    assert "n=2" in capsys.readouterr().out


def test_evaluate_help_shows_the_default_fields(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["evaluate", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "(default: category)" in text and "(default: text)" in text
    assert "(default: group)" in text and "`copy_of`" in text


def test_evaluate_dedup_without_copy_labels_is_an_error_not_a_perfect_score(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    f = tmp_path / "dedup.jsonl"
    f.write_bytes(b"".join(MENTIONS.read_bytes().splitlines(keepends=True)[:3]))
    assert main(["evaluate", "dedup", str(f)]) == 2
    assert "no line carries a `copy_of` label" in _one_line(capsys)


def test_a_model_that_is_no_model_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    labelled = tmp_path / "l.jsonl"
    labelled.write_text('{"text": "яма", "category": "roads"}\n', encoding="utf-8")
    assert main(["evaluate", "categories", str(labelled), "--model", str(MENTIONS)]) == 2
    assert _one_line(capsys) == (
        f"incidents: error: --model: {MENTIONS} is not a model from `incidents train` "
        "(not an .npz archive)"
    )
    assert main(["evaluate", "categories", str(labelled), "--model", "nope.npz"]) == 2
    assert _one_line(capsys) == "incidents: error: --model: no such model file: nope.npz"
    monkeypatch.setenv("INCIDENTS_ENRICH_CATEGORY_MODEL", str(tmp_path / "gone.npz"))
    assert main(["process", str(MENTIONS), "-q"]) == 2
    assert _one_line(capsys).startswith(
        "incidents: config error: INCIDENTS_ENRICH_CATEGORY_MODEL: no such model file"
    )


def test_train_into_a_directory_and_a_line_that_is_no_object_are_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    labelled = tmp_path / "l.jsonl"
    labelled.write_text(
        '{"text": "яма", "category": "roads"}\n{"text": "нет воды", "category": "utilities"}\n',
        encoding="utf-8",
    )
    assert main(["train", str(labelled), "-o", str(tmp_path)]) == 2
    assert _one_line(capsys) == (
        f"incidents: error: -o {tmp_path} is a directory: name the model file (.npz)"
    )
    listed = tmp_path / "list.jsonl"
    listed.write_text('["яма", "roads"]\n', encoding="utf-8")
    assert main(["evaluate", "categories", str(listed)]) == 2
    assert _one_line(capsys) == f"incidents: error: {listed}:1: not a JSON object"


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["train", "x.jsonl", "-o", "m.npz", "--validation", "5"], "--validation: must be from 0"),
        (["process", "x.jsonl", "--batch", "0"], "--batch: must be 1 or more"),
        (["dlq", "show", "--limit", "-1"], "--limit: must be 1 or more"),
        (["broker", "--port", "99999"], "--port: must be 1..65535"),
        (["topics", "--connect-timeout", "-3"], "--connect-timeout: must be 0 or more"),
        (["dlq", "show", "--since", "yesterday"], "--since: not an ISO time"),
        (["dlq", "replay", "--from", "clickhouse"], "dlq replay reads mentions.dlq in Kafka"),
    ],
)
def test_out_of_range_options_are_one_line(
    args: list[str], expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(args) == 2
    line = _one_line(capsys)
    assert line.startswith("incidents: error: ") and expected in line


# ------------------------------------------------------------------- parser
def _subparsers(p: argparse.ArgumentParser) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    for action in p._actions:
        if isinstance(action, argparse._SubParsersAction):
            yield from action.choices.items()


def test_every_option_has_help_and_every_command_a_description() -> None:
    parser = build_parser()
    missing = []
    for name, sp in _subparsers(parser):
        if not sp.description:
            missing.append(f"{name}: no description")
        for action in sp._actions:
            if not action.help or action.help == argparse.SUPPRESS:
                missing.append(f"{name} {'/'.join(action.option_strings) or action.dest}")
    assert not missing, "without help text: " + ", ".join(missing)


@pytest.mark.parametrize("command", ["dlq", "schemas"])
def test_dlq_and_schemas_describe_each_action(command: str) -> None:
    sp = dict(_subparsers(build_parser()))[command]
    action = next(a for a in sp._actions if a.dest == "action")
    assert action.choices is not None
    for choice in action.choices:
        assert f"{choice}:" in (action.help or ""), f"{command} {choice} is not described"
        assert f"`{choice}`" in (sp.description or "")


# ------------------------------------------------------------------- Kafka
@pytest.fixture(scope="module")
def closed_port() -> int:
    return free_port()  # bound and released: nothing listens there


def _vk_registry(root: Path) -> Path:
    path = root / "registry.yaml"
    path.write_text(
        'sources:\n  - {platform: vk, id: "-1", kind: city_public, region: RU-TVE}\n',
        encoding="utf-8",
    )
    return path


KAFKA_COMMANDS = [
    ["dlq", "show"],
    ["dlq", "replay"],
    ["topics"],
    ["replay", str(MENTIONS)],
    ["replies"],
    ["connect", "file", str(MENTIONS)],
    ["connect", "vk"],
    ["connect", "webhook"],
    ["worker", "--connect-timeout", "1"],
]


@pytest.mark.parametrize("args", KAFKA_COMMANDS, ids=" ".join)
def test_no_broker_is_one_line_not_a_librdkafka_flood(
    args: list[str], tmp_path: Path, closed_port: int
) -> None:
    proc = _run(
        args,
        cwd=tmp_path,
        timeout=90,
        kafka_bootstrap=f"127.0.0.1:{closed_port}",
        connectors_registry_file=str(_vk_registry(tmp_path)),
        connectors_vk_token="token",
        connectors_webhook_tokens="secret",
        connectors_state_dir=str(tmp_path / "state"),
    )
    assert proc.returncode == 1, proc.stderr[-2000:]
    lines = proc.stderr.strip().splitlines()
    assert not [line for line in lines if line.startswith("%")], "librdkafka's own log lines"
    # Connectors are services: their structured (JSON) log lines may come first.
    ours = [line for line in lines if not line.startswith("{")]
    assert len(ours) == 1 and len(lines) <= 5, lines[:8]
    assert ours[0].startswith(f"incidents: cannot reach Kafka at 127.0.0.1:{closed_port} ")
    assert "Connection refused" in ours[0]


# -------------------------------------------------------------- connectors
@pytest.mark.parametrize(
    ("name", "settings", "expected"),
    [
        ("vk", {}, "INCIDENTS_CONNECTORS_VK_TOKEN is not set"),
        ("vk", {"connectors_vk_token": "t"}, "vk: no sources to poll"),
        ("ok", {}, "INCIDENTS_CONNECTORS_OK_APPLICATION_KEY"),
        ("telegram", {}, "INCIDENTS_CONNECTORS_TELEGRAM_TOKEN is not set"),
        (
            "telegram",
            {"connectors_telegram_token": "1:x", "connectors_telegram_mode": "webhook"},
            "INCIDENTS_CONNECTORS_TELEGRAM_WEBHOOK_SECRET is not set",
        ),
        ("webhook", {}, "INCIDENTS_CONNECTORS_WEBHOOK_TOKENS is not set"),
        ("portal", {}, "portal: no sources to poll"),
        ("rss", {}, "rss: no sources to poll"),
    ],
)
def test_a_connector_says_what_its_own_config_lacks_before_asking_kafka(
    name: str,
    settings: dict[str, str],
    expected: str,
    closed_port: int,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("INCIDENTS_KAFKA_BOOTSTRAP", f"127.0.0.1:{closed_port}")
    for key, value in settings.items():
        monkeypatch.setenv(f"INCIDENTS_{key.upper()}", value)
    assert main(["connect", name]) == 2
    line = _one_line(capsys)
    assert line.startswith(f"incidents: config error: connect {name}: ") and expected in line


def test_replies_says_a_live_platform_lacks_its_token_before_asking_kafka(
    closed_port: int, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("INCIDENTS_KAFKA_BOOTSTRAP", f"127.0.0.1:{closed_port}")
    monkeypatch.setenv("INCIDENTS_CONNECTORS_REPLIES_LIVE", "vk")
    assert main(["replies"]) == 2
    assert _one_line(capsys) == (
        "incidents: config error: replies: INCIDENTS_CONNECTORS_VK_TOKEN is not set "
        "(a VK service token)"
    )


# -------------------------------------------------------------- ClickHouse
def test_report_on_a_missing_chdb_directory_says_migrate_and_creates_nothing(
    tmp_path: Path,
) -> None:
    data = tmp_path / "nothing-here"
    proc = _run(["report"], cwd=tmp_path, clickhouse_url=f"chdb://{data}")
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        f"incidents: no ClickHouse data in {data} (INCIDENTS_CLICKHOUSE_URL): run `incidents "
        "migrate` to create it (`make demo` fills it with the sample)"
    ]
    assert not data.exists(), "a report must not create an empty ClickHouse directory"


@pytest.mark.parametrize(
    "command", [["report"], ["migrate"], ["dlq", "show", "--from", "clickhouse"]]
)
def test_an_unreachable_clickhouse_server_is_one_line_without_driver_noise(
    command: list[str], tmp_path: Path, closed_port: int
) -> None:
    url = f"http://127.0.0.1:{closed_port}"
    proc = _run(command, cwd=tmp_path, clickhouse_url=url)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        f"incidents: cannot open ClickHouse at {url}: Connection refused"
    ]


@pytest.mark.parametrize("command", [["report"], ["verify", str(MENTIONS)], ["dlq", "show"]])
def test_an_unreachable_worker_is_one_line(
    command: list[str], tmp_path: Path, closed_port: int, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"http://127.0.0.1:{closed_port}"
    assert main([*command, "--via", url]) == 1
    assert _one_line(capsys) == (
        f"incidents: cannot reach the worker at {url}: Connection refused; is `incidents "
        "worker` running (its port: INCIDENTS_WORKER_WEB_PORT)?"
    )

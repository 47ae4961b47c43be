"""`incidents console`: a wrong setup ends in one line, never a traceback."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from incidents.cli.main import main
from incidents.console.auth import check_password


def _one_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


def test_demo_users_only_on_loopback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("INCIDENTS_CONSOLE_WEB_HOST", "0.0.0.0")
    assert main(["console"]) == 2
    assert "demo users" in _one_line(capsys)


def test_a_bad_users_file_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    f = tmp_path / "users.yaml"
    f.write_text("users:\n  - {name: x, role: boss, regions: [RU-TVE]}\n", encoding="utf-8")
    monkeypatch.setenv("INCIDENTS_CONSOLE_USERS_FILE", str(f))
    assert main(["console"]) == 2
    line = _one_line(capsys)
    assert "INCIDENTS_CONSOLE_USERS_FILE" in line and "users.x.role" in line


def test_no_kafka_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("INCIDENTS_KAFKA_BOOTSTRAP", "127.0.0.1:1")
    assert main(["console", "--connect-timeout", "1"]) == 1
    assert "cannot reach Kafka at 127.0.0.1:1" in _one_line(capsys)


def test_hash_password_reads_stdin(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("a long passphrase\n"))
    assert main(["console", "hash-password"]) == 0
    hashed = capsys.readouterr().out.strip()
    assert check_password("a long passphrase", hashed)
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert main(["console", "hash-password"]) == 2
    assert "at least 8" in _one_line(capsys)

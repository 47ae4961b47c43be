"""What every command shares: the two one-line failures, argument types, reaching Kafka.

A mistake a user can make ends in one line on stderr and exit code 2
(:class:`UsageError`, a ``ConfigError`` of the settings) or 1 (:class:`Failure`),
never a traceback; ``incidents/cli/main.py``'s ``main`` turns them into that line. The
command groups (``incidents/cli/*.py``, ``incidents/warehouse/access.py``) raise the same
classes, from here, so they need nothing of the entry point. Their argument types are
made by one factory, :func:`argument_type`: parse, check the range, one line.
"""

from __future__ import annotations

import argparse
import difflib
import logging
import re
import time
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar

from confluent_kafka.admin import AdminClient

from incidents.config.settings import KafkaSettings

T = TypeVar("T")


class UsageError(Exception):
    """Exit code 2 with one line."""


class Failure(Exception):
    """Exit code 1 with one line."""


class OneLineParser(argparse.ArgumentParser):
    """argparse whose every error is a UsageError (one line, exit 2); an unknown
    command gets the nearest known one as a hint."""

    def error(self, message: str) -> NoReturn:
        if "invalid choice" in message and "argument command" in message:
            bad = message.split("'")[1] if "'" in message else ""
            commands = re.findall(r"'([^']*)'", message.partition("choose from")[2])
            close = difflib.get_close_matches(bad, commands, n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            message = f"unknown command '{bad}'{hint} (see `incidents --help`)"
        raise UsageError(message)


def argument_type(
    parse: Callable[[str], T], ok: Callable[[T], bool], not_parsed: str, out_of_range: str
) -> Callable[[str], T]:
    """An argparse type: parse the text, check its range, one line for either mistake.

    ``not_parsed`` and ``out_of_range`` are ``str.format`` templates over ``text`` (what
    the user typed) and ``value`` (what it parsed to); argparse prefixes the argument.
    """

    def convert(text: str) -> T:
        try:
            value = parse(text)
        except ValueError:
            raise argparse.ArgumentTypeError(not_parsed.format(text=text)) from None
        if not ok(value):
            raise argparse.ArgumentTypeError(out_of_range.format(text=text, value=value))
        return value

    return convert


#: argparse type: a count that must be at least 1.
positive_int = argument_type(
    int, lambda v: v >= 1, "not a whole number: {text!r}", "must be 1 or more (got {value})"
)
#: argparse type: a duration in seconds, 0 or more (NaN is not).
seconds = argument_type(
    float, lambda v: v >= 0, "not a number of seconds: {text!r}", "must be 0 or more (got {text})"
)


def add_connect_timeout(sp: argparse.ArgumentParser, default: float = 0.0) -> None:
    """--connect-timeout, the same for every command that needs Kafka."""
    when = (
        "default: give up at once if nothing listens there"
        if default == 0
        else f"default {default:g}"
    )
    sp.add_argument(
        "--connect-timeout",
        type=seconds,
        default=default,
        metavar="S",
        help=f"keep trying to reach Kafka for up to S seconds, for a broker that is still "
        f"starting ({when})",
    )


def add_command(
    sub: Any, name: str, help: str, description: str | None = None
) -> argparse.ArgumentParser:
    """A subcommand whose description, when not given, is its help as a sentence."""
    parser: argparse.ArgumentParser = sub.add_parser(
        name, help=help, description=description or help[:1].upper() + help[1:] + "."
    )
    return parser


# ------------------------------------------------------------------- Kafka
class _KafkaLogTail(logging.Handler):
    """librdkafka's log lines while we probe: kept for the error, never printed.

    Without a ``logger`` librdkafka writes every failed connection attempt to
    stderr (``%3|…|FAIL|…Connection refused``), hundreds of lines before our one.
    """

    def __init__(self, hosts: list[str]) -> None:
        super().__init__(logging.DEBUG)
        self.hosts = set(hosts)
        self.reasons: list[str] = []
        self.refused: set[str] = set()  # bootstrap hosts nobody listens on (or that do not resolve)
        self.logger = logging.Logger("incidents.kafka-probe", logging.DEBUG)  # not registered
        self.logger.propagate = False
        self.logger.addHandler(self)

    def emit(self, record: logging.LogRecord) -> None:
        # "FAIL [rdkafka#producer-1] [thrd:…]: 127.0.0.1:1/bootstrap: Connect to ipv4#127.0.0.1:1
        # failed: Connection refused (after 0ms in state CONNECT)" → "Connect to … refused"
        if record.levelno < logging.WARNING:
            return
        text = record.getMessage().split("]: ", 1)[-1]
        m = re.match(r"^(?:\w+://)?(\S+?)/(?:bootstrap|\d+): ", text)
        if m:
            text = text[m.end() :]
        text = re.sub(r"\s*\(after \d+ms[^)]*\)$", "", text).strip()
        self.reasons.append(text)
        if m and ("Connection refused" in text or "Failed to resolve" in text):
            self.refused.add(m.group(1))

    @property
    def definite(self) -> bool:
        """Every bootstrap host refused or did not resolve: waiting longer changes nothing."""
        return self.hosts <= self.refused


def wait_for_kafka(kafka: KafkaSettings, timeout: float = 0.0) -> None:
    """Return once the brokers answer; else one line (``Failure``), not librdkafka's flood.

    ``timeout`` 0 (the default of the interactive commands) gives up as soon as the
    brokers refuse connections or their name does not resolve (~1 s), else after ~6 s;
    ``--connect-timeout N`` keeps trying for N s, for a broker that is still starting
    (a container, a hook job).
    """
    tail = _KafkaLogTail(kafka.hosts())
    conf: dict[str, Any] = {
        **kafka.librdkafka(),
        "socket.connection.setup.timeout.ms": 3000,
        "logger": tail.logger,
    }
    admin = AdminClient(conf)
    started = time.monotonic()
    at_least = started + max(timeout, 6.0)  # a slow TLS/SASL handshake, a loaded machine
    last = ""
    while True:
        try:
            admin.list_topics(timeout=1.0)
            return
        except Exception as exc:  # KafkaException: transport failure
            last = str(exc)
        admin.poll(0)  # hands the queued librdkafka log lines to `tail`
        now = time.monotonic()
        if now >= at_least or (tail.definite and now - started >= timeout):
            break
        time.sleep(0.2)
    reason = next((r for r in reversed(tail.reasons) if "brokers are down" not in r), last)
    waited = f" within {timeout:.0f} s" if timeout >= 1 else ""
    raise Failure(
        f"cannot reach Kafka at {kafka.bootstrap} (INCIDENTS_KAFKA_BOOTSTRAP){waited}"
        + (f": {reason[:120]}" if reason else "")
        + "; start one with `incidents broker`"
    )

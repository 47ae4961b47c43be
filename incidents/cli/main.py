"""`incidents`: the one command-line entry point, and the one place errors become a line.

Each command group lives in its own module (``incidents/cli/process.py``, ``stack.py``,
``evaluate.py``, …) with a ``register(sub)`` that adds its subcommands; this module
assembles the parser in the order of ``incidents --help``. Every failure a user can
cause (a mistyped command, a wrong setting, a missing file, an unreachable broker)
reaches :func:`main` as a :class:`UsageError`, ``ConfigError`` or :class:`Failure` and
ends here in one line on stderr and exit code 2 (usage or config) or 1 (runtime),
never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from incidents.cli import (
    bench,
    config,
    connectors,
    console,
    dlq,
    evaluate,
    process,
    report,
    schemas,
    stack,
    verify,
)
from incidents.config.command import Failure, OneLineParser, UsageError
from incidents.config.settings import ConfigError

COMMANDS = [
    "process", "replay", "report", "worker", "broker", "topics", "migrate", "demo", "schemas",
    "config", "verify", "dlq", "train", "evaluate", "bench", "connect", "replies", "console",
]  # fmt: skip

#: The command groups, in the order `incidents --help` lists their commands.
GROUPS = [
    process, report, stack, schemas, verify, dlq, evaluate, config, bench, connectors, console,
]  # fmt: skip


def build_parser() -> argparse.ArgumentParser:
    p = OneLineParser(
        prog="incidents",
        description="Social-media mentions → deduplicated, classified, located, routed incidents.",
        epilog="Settings come from INCIDENTS_* environment variables; see docs/configuration.md.",
    )
    sub = p.add_subparsers(dest="command", metavar="command", parser_class=OneLineParser)
    for group in GROUPS:
        group.register(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if not getattr(args, "fn", None):
            parser.print_help(sys.stderr)
            return 2
        return int(args.fn(args) or 0)
    except UsageError as exc:
        print(f"incidents: error: {exc}", file=sys.stderr)
        return 2
    except ConfigError as exc:
        print(f"incidents: config error: {exc}", file=sys.stderr)
        return 2
    except Failure as exc:
        print(f"incidents: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("incidents: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `incidents ... | head`
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    # `python -m incidents.cli.main`; Failure and UsageError come from
    # incidents/config/command.py, so the command groups raise the very classes main() catches.
    sys.exit(main())

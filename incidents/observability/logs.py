"""Structured logs: JSON lines in services, readable lines in the terminal.

Faust, aiokafka and mode log through the standard library; their records go
through the same structlog formatter, so a log shipper sees one JSON format.
"""

from __future__ import annotations

import logging
import sys

import structlog
from structlog.typing import Processor

_configured = False


def configure(fmt: str = "json", level: str = "info", stream: object = None) -> None:
    global _configured
    lvl = getattr(logging, level.upper(), logging.INFO)
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer = (
        structlog.processors.JSONRenderer(ensure_ascii=False)
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    handler = logging.StreamHandler(stream or sys.stderr)  # type: ignore[arg-type]
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    root.addHandler(handler)
    root.setLevel(lvl)
    # Faust/aiokafka are chatty at info about every rebalance step.
    for noisy in ("aiokafka", "kafka", "faust.transport", "faust.tables.recovery"):
        logging.getLogger(noisy).setLevel(max(lvl, logging.WARNING))
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    _configured = True


def get(name: str) -> structlog.stdlib.BoundLogger:
    return structlog.get_logger(name)

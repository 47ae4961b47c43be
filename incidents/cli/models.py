"""The user's own models and rubric map, checked before any work, and the offline pipeline.

A configured model or map that does not load is one line (``ConfigError`` for a
setting, :class:`UsageError` for an argument) before the models load, not a traceback
halfway through; ``process``, ``verify``, ``train`` and ``evaluate`` share the checks.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from incidents.config.command import UsageError
from incidents.config.settings import ConfigError, Settings
from incidents.domain.understanding.problems import Taxonomy
from incidents.domain.understanding.rubric import RubricMap


def load_model(path: Path, what: str) -> Any:
    """A model from `incidents train`, or one line saying why this file is not one."""
    from incidents.domain.understanding.classify import AppealClassifier  # lazy: numpy, scipy

    if not path.is_file():
        raise UsageError(f"{what}: no such model file: {path}")
    try:
        return AppealClassifier.load(path)
    except Exception as exc:  # numpy/zipfile/KeyError: whatever a foreign file makes them raise
        reason = str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
        if "pickled" in reason or "zip file" in reason:  # numpy on a file that is no .npz
            reason = "not an .npz archive"
        raise UsageError(
            f"{what}: {path} is not a model from `incidents train` ({reason})"
        ) from None


def check_model_setting(s: Settings) -> None:
    """A configured own model or map that does not load is one line, before any work."""
    for path, name in (
        (s.enrich.category_model, "INCIDENTS_ENRICH_CATEGORY_MODEL"),
        (s.enrich.problem_model, "INCIDENTS_ENRICH_PROBLEM_MODEL"),
    ):
        if path is not None:
            try:
                load_model(Path(path), name)
            except UsageError as exc:
                raise ConfigError(str(exc)) from None
    if s.enrich.rubric_map is not None or s.enrich.problems_file is not None:
        try:
            taxonomy = Taxonomy.load(s.enrich.problems_file)
        except (OSError, ValueError) as exc:
            raise ConfigError(f"INCIDENTS_ENRICH_PROBLEMS_FILE: {exc}") from None
        if s.enrich.rubric_map is not None:
            try:
                rubric_map(str(s.enrich.rubric_map), taxonomy)
            except UsageError as exc:
                raise ConfigError(f"INCIDENTS_ENRICH_RUBRIC_MAP: {exc}") from None


def rubric_map(path: str, taxonomy: Any) -> Any:
    """A rubric map (your rubric lines → problem types), or one line saying what is wrong."""
    p = Path(path)
    if not p.is_file():
        raise UsageError(f"no such rubric map: {p}")
    try:
        return RubricMap.load(p, taxonomy)
    except (ValueError, OSError) as exc:
        raise UsageError(f"{p}: {exc}") from None


def offline_pipeline(s: Settings) -> Any:
    """The agents' domain code, offline, once the configured models are known to load."""
    from incidents.stream.offline import OfflinePipeline  # lazy: the models and the gazetteer

    check_model_setting(s)
    return OfflinePipeline(s)

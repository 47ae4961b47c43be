"""The lock files are what `make setup` installs: they must agree with pyproject.toml."""

from __future__ import annotations

import re
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
LOCKS = {"dev.lock": ("dev",), "runtime.lock": ("rocksdb",)}
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)\s*(?:;\s*([^\\]+?))?\s*\\?$")


def locked(name: str) -> dict[str, list[tuple[str, str | None]]]:
    """name -> [(version, marker)] of one lock file, and every pin has a hash."""
    pins: dict[str, list[tuple[str, str | None]]] = {}
    lines = (ROOT / "requirements" / name).read_text(encoding="utf-8").splitlines()
    for i, line in enumerate(lines):
        m = PIN.match(line)
        if not m:
            continue
        assert i + 1 < len(lines) and "--hash=sha256:" in lines[i + 1], f"{line}: no hash"
        pins.setdefault(canonicalize_name(m[1]), []).append((m[2], m[3]))
    return pins


def applies(marker: str | None) -> bool:
    return marker is None or Marker(marker).evaluate()


def version_here(pins: list[tuple[str, str | None]]) -> str:
    (version,) = [v for v, marker in pins if applies(marker)]
    return version


def requirements(extras: tuple[str, ...]) -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    specs = list(project["dependencies"])
    for extra in extras:
        specs += project["optional-dependencies"][extra]
    build = (ROOT / "requirements" / "build.in").read_text(encoding="utf-8").splitlines()
    specs += [s for s in build if s.strip() and not s.startswith("#")]
    return [Requirement(s) for s in specs]


@pytest.mark.parametrize(("lock", "extras"), LOCKS.items())
def test_every_requirement_of_pyproject_is_locked_within_its_range(
    lock: str, extras: tuple[str, ...]
) -> None:
    pins = locked(lock)
    for req in requirements(extras):
        name = canonicalize_name(req.name)
        assert name in pins, f"{req} is not in requirements/{lock}: run `make lock`"
        version = version_here(pins[name])
        assert req.specifier.contains(version, prereleases=True), (
            f"requirements/{lock} pins {name}=={version}, outside {req}: run `make lock`"
        )


@pytest.mark.parametrize("lock", LOCKS)
def test_a_lock_holds_nothing_the_project_does_not_need(lock: str) -> None:
    """A package left behind after a requirement was dropped means the lock is stale."""
    pins = locked(lock)
    needed: set[str] = set()
    todo = [r for r in requirements(LOCKS[lock]) if applies(str(r.marker) if r.marker else None)]
    while todo:
        req = todo.pop()
        name = canonicalize_name(req.name)
        if name in needed:
            continue
        needed.add(name)
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue  # not installed here (the runtime lock's extras): checked by name only
        for spec in dist.requires or []:
            sub = Requirement(spec)
            if sub.marker is None or sub.marker.evaluate({"extra": ",".join(req.extras) or ""}):
                todo.append(sub)
    here = {name for name, p in pins.items() if any(applies(m) for _, m in p)}
    if lock == "dev.lock":
        assert here <= needed, f"in requirements/{lock} but needed by nothing: {here - needed}"


def test_the_environment_is_exactly_the_dev_lock() -> None:
    """`make setup` installed the locked versions, not whatever resolved that day."""
    wrong = {}
    for name, pins in locked("dev.lock").items():
        if not any(applies(m) for _, m in pins):
            continue
        want = version_here(pins)
        try:
            have = metadata.version(name)
        except metadata.PackageNotFoundError:
            have = "missing"
        if have != want:
            wrong[name] = (have, want)
    assert not wrong, f"installed vs locked: {wrong}; run `make setup`"


def test_the_runtime_lock_agrees_with_the_dev_lock() -> None:
    dev, runtime = locked("dev.lock"), locked("runtime.lock")
    differ = {n: (p, dev[n]) for n, p in runtime.items() if n in dev and p != dev[n]}
    assert not differ, f"the image and the tests would run different versions: {differ}"

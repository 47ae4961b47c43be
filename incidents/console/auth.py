"""Who is at the console: users, roles, regions, passwords, sessions, the login limit.

Users come from a YAML file (``INCIDENTS_CONSOLE_USERS_FILE``; the built-in demo
users otherwise, on loopback only):

    users:
      - name: tver-op1
        password: scrypt$16384$8$1$<salt>$<hash>   # `incidents console hash-password`
        role: operator                              # operator | supervisor | viewer
        regions: [RU-TVE]                           # ISO codes, `unknown`, or `*`
    groups:                                         # header auth: SSO group → role, regions
      cur-tver-supervisors: {role: supervisor, regions: [RU-TVE]}

Passwords are stored as scrypt hashes (the standard library's memory-hard KDF),
compared in constant time. Sessions live in the console's memory behind a random
token in an HttpOnly, SameSite=Strict cookie; every form carries the session's
CSRF token. None of the three (password, token, CSRF token) is ever logged.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

Role = Literal["operator", "supervisor", "viewer"]
ROLES: tuple[Role, ...] = ("operator", "supervisor", "viewer")
DEMO_USERS = Path(__file__).with_name("data") / "demo-users.yaml"
_REGION = re.compile(r"^(RU-[A-Z]{2,3}|unknown)$")
_SCRYPT = (2**14, 8, 1)  # n, r, p: ~16 MB and ~50 ms a check on this machine


class UsersError(ValueError):
    """The users file is wrong; the message names the entry."""


def hash_password(password: str, salt: bytes | None = None) -> str:
    """`scrypt$n$r$p$salt$hash`, base64 without padding."""
    n, r, p = _SCRYPT
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, dklen=32)

    def b64(b: bytes) -> str:
        return base64.b64encode(b).decode().rstrip("=")

    return f"scrypt${n}${r}${p}${b64(salt)}${b64(digest)}"


def check_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False

        def unb64(s: str) -> bytes:
            return base64.b64decode(s + "=" * (-len(s) % 4))

        want = unb64(digest)
        got = hashlib.scrypt(
            password.encode(), salt=unb64(salt), n=int(n), r=int(r), p=int(p), dklen=len(want)
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, want)


@dataclass(frozen=True)
class User:
    name: str
    role: Role
    regions: frozenset[str] | None  # None: every region
    password_hash: str | None = None

    def can(self, action: str) -> bool:
        """What a role may do: viewers read; operators act; supervisors also merge, split
        and reassign across municipalities."""
        if self.role == "viewer":
            return False
        if action in ("merge", "split", "assign_any"):
            return self.role == "supervisor"
        return True

    @property
    def regions_label(self) -> str:
        return "все регионы" if self.regions is None else ", ".join(sorted(self.regions))


@dataclass(frozen=True)
class Directory:
    users: dict[str, User]
    groups: dict[str, tuple[Role, frozenset[str] | None]]
    demo: bool = False

    @classmethod
    def load(cls, path: Path | None) -> Directory:
        file = path or DEMO_USERS
        if not file.is_file():
            raise UsersError(f"no such users file: {file}")
        try:
            raw = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            raise UsersError(f"{file}: not YAML ({str(exc).splitlines()[0]})") from None
        if not isinstance(raw, dict):
            raise UsersError(f"{file}: expected a mapping with `users:` (and `groups:`)")
        unknown = set(raw) - {"users", "groups"}
        if unknown:
            raise UsersError(f"{file}: unknown field(s) {sorted(unknown)}; known: groups, users")
        users: dict[str, User] = {}
        for i, u in enumerate(raw.get("users") or []):
            if not isinstance(u, dict) or not isinstance(u.get("name"), str):
                raise UsersError(f"{file}: users[{i}] needs a name, a role and regions")
            name = u["name"]
            pw = u.get("password")
            if pw is not None and not str(pw).startswith("scrypt$"):
                raise UsersError(
                    f"{file}: users.{name}.password must be a hash from "
                    "`incidents console hash-password`, never the password itself"
                )
            role, regions = _role_regions(u, f"users.{name}", file)
            users[name] = User(name, role, regions, pw)
        groups = {
            str(g): _role_regions(v, f"groups.{g}", file)
            for g, v in (raw.get("groups") or {}).items()
        }
        return cls(users, groups, demo=path is None)

    def header_user(self, name: str, groups: list[str]) -> User | None:
        """A user named by the forward-auth proxy: the file's entry by name, else the union
        of the groups it belongs to (the highest role among them)."""
        if name in self.users:
            u = self.users[name]
            return User(u.name, u.role, u.regions)
        found = [self.groups[g] for g in groups if g in self.groups]
        if not found:
            return None
        rank = ("supervisor", "operator", "viewer")
        role = min((r for r, _ in found), key=rank.index)
        regions: set[str] = set()
        for _, rs in found:
            if rs is None:
                return User(name, role, None)
            regions |= rs
        return User(name, role, frozenset(regions))


def _role_regions(entry: Any, where: str, file: Path) -> tuple[Role, frozenset[str] | None]:
    if not isinstance(entry, dict):
        raise UsersError(f"{file}: {where} needs a role and regions")
    role = entry.get("role")
    if role not in ROLES:
        raise UsersError(f"{file}: {where}.role must be one of {', '.join(ROLES)} (got {role!r})")
    regions = entry.get("regions")
    if regions == "*" or regions == ["*"]:
        return role, None
    if not isinstance(regions, list) or not regions:
        raise UsersError(f"{file}: {where}.regions: a list of region codes, or '*'")
    for r in regions:
        if not _REGION.match(str(r)):
            raise UsersError(f"{file}: {where}.regions: {r!r} is not a code like RU-TVE")
    return role, frozenset(str(r) for r in regions)


@dataclass
class Session:
    user: User
    csrf: str
    expires: float


@dataclass
class Sessions:
    """Logins held in memory: a console restart signs everyone out (and that is all)."""

    ttl_s: float
    by_token: dict[str, Session] = field(default_factory=dict)

    def open(self, user: User) -> str:
        self._sweep()
        token = secrets.token_urlsafe(32)
        self.by_token[token] = Session(user, secrets.token_urlsafe(24), time.time() + self.ttl_s)
        return token

    def get(self, token: str | None) -> Session | None:
        if not token:
            return None
        s = self.by_token.get(token)
        if s is None or s.expires < time.time():
            self.by_token.pop(token, None)
            return None
        return s

    def close(self, token: str | None) -> None:
        if token:
            self.by_token.pop(token, None)

    def _sweep(self) -> None:
        now = time.time()
        for t in [t for t, s in self.by_token.items() if s.expires < now]:
            del self.by_token[t]


@dataclass
class LoginLimit:
    """At most `attempts` failed logins per user name and per address in `window_s`."""

    attempts: int
    window_s: float
    failures: dict[str, deque[float]] = field(default_factory=dict)

    def _recent(self, key: str, now: float) -> deque[float]:
        q = self.failures.setdefault(key, deque())
        while q and q[0] < now - self.window_s:
            q.popleft()
        return q

    def blocked_for(self, *keys: str) -> float:
        """Seconds until a login may be tried again (0: now)."""
        now = time.monotonic()
        wait = 0.0
        for k in keys:
            q = self._recent(k, now)
            if len(q) >= self.attempts:
                wait = max(wait, q[0] + self.window_s - now)
        return wait

    def failed(self, *keys: str) -> None:
        now = time.monotonic()
        for k in keys:
            self._recent(k, now).append(now)
        if len(self.failures) > 10_000:  # an address sweep: forget the quiet ones
            for k in [k for k, q in self.failures.items() if not self._recent(k, now)]:
                del self.failures[k]

    def succeeded(self, name: str) -> None:
        self.failures.pop("user:" + name, None)


def csrf_ok(expected: str, given: str | None) -> bool:
    return bool(given) and hmac.compare_digest(expected.encode(), str(given).encode())

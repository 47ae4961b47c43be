"""Russian wording of the console: statuses, events, clocks, problem types, times.

Categories and platforms come from the HTML report's table (incidents/domain/labels.py),
so an official reads the same words on both. A code without a label shows as itself.
"""

from __future__ import annotations

from datetime import datetime, tzinfo
from functools import cache

import yaml

from incidents.domain import DATA
from incidents.domain.labels import CATEGORIES, PLATFORMS, region_names

STATUSES = {
    "new": "Новый",
    "assigned": "Назначен",
    "in_progress": "В работе",
    "answered_interim": "Промежуточный ответ",
    "answered_final": "Окончательный ответ",
    "closed": "Закрыт",
    "rejected": "Не обращение",
    "merged_into": "Объединён",
}

PRIORITIES = {"critical": "Критичный", "high": "Высокий", "normal": "Обычный"}

EVENTS = {
    "created": "Создан",
    "attached": "Присоединена публикация",
    "duplicate_linked": "Присоединена копия",
    "detached": "Публикация ушла (правка)",
    "assigned": "Назначено ведомство",
    "status_changed": "Изменён статус",
    "responded": "Дан ответ",
    "sla_breached": "Нарушен срок",
    "sla_breach_retracted": "Нарушение срока снято",
    "reopened": "Открыт снова",
    "merged": "Объединён",
    "split": "Выделены публикации",
    "closed": "Закрыт",
}

CLOCKS = {"first_reaction": "первая реакция", "final_answer": "окончательный ответ"}
KINDS = {"interim": "промежуточный", "final": "окончательный"}
ACTIONS = {
    "assign": "назначение ведомства",
    "set_status": "смена статуса",
    "merge": "объединение",
    "split": "выделение публикаций",
    "respond": "ответ",
}
FILTER_NAMES = {
    "municipality": "Муниципалитет",
    "category": "Категория",
    "problem": "Проблема",
    "agency": "Ведомство",
    "platform": "Площадка",
    "status": "Статус",
    "priority": "Приоритет",
}
ROLES = {"operator": "оператор", "supervisor": "старший смены", "viewer": "наблюдатель"}


@cache
def problems() -> dict[str, str]:
    """Problem type code → its Russian title, from the bundled taxonomy."""
    path = DATA / "problems.yaml"
    doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return {t["code"]: t.get("title", t["code"]) for t in doc.get("types") or []}


def label(kind: str, code: str | None) -> str:
    """A code in Russian; `—` for none."""
    if code is None or code == "" or code == "—":
        return "—"
    table = {
        "category": CATEGORIES,
        "platform": PLATFORMS,
        "status": STATUSES,
        "priority": PRIORITIES,
        "event": EVENTS,
        "clock": CLOCKS,
        "kind": KINDS,
        "action": ACTIONS,
        "filter": FILTER_NAMES,
        "role": ROLES,
    }.get(kind)
    if kind == "problem":
        return problems().get(code, code)
    if kind == "region":
        return region_names().get(code, "Регион не определён" if code == "unknown" else code)
    return (table or {}).get(code, code)


def duration(seconds: float, day_s: float = 86_400.0) -> str:
    """`2 дн 3 ч`, `3 ч 05 мин`, `12 мин`: coarse enough to read at a glance. In working
    time (`day_s` a working day's seconds) days are working days: `2 раб. дн 3 ч`."""
    s = int(abs(seconds))
    days, rest = divmod(s, int(day_s))
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return f"{days} {'дн' if day_s >= 86_400 else 'раб. дн'} {hours} ч"
    if hours:
        return f"{hours} ч {minutes:02d} мин"
    return f"{minutes} мин"


def local_time(at: datetime | None, tz: tzinfo, year: bool = True) -> str:
    """A moment on the region's clock, with its offset: `16.11.2026 08:05 (UTC+7)`."""
    if at is None:
        return "—"
    local = at.astimezone(tz)
    off = local.utcoffset()
    hours = int(off.total_seconds() // 3600) if off is not None else 0
    stamp = local.strftime("%d.%m.%Y %H:%M" if year else "%d.%m %H:%M")
    return f"{stamp} (UTC{hours:+d})"

"""Russian wording of the HTML report: what an official reads instead of column aliases.

The dashboards (incidents/oversight/dashboards.py) keep English titles and SQL aliases for
Grafana and the terminal; the HTML page is for officials of a control centre, so
every title, column and code it shows is looked up here. A code the page shows
in Russian keeps its original in a tooltip (`title`), so nothing is lost.
`tests/oversight/test_html_report.py` fails when a panel or column has no label.
"""

from __future__ import annotations

import csv
from functools import cache

from incidents.domain import DATA

CATEGORIES = {
    "roads": "Дороги",
    "public_transport": "Общественный транспорт",
    "housing": "Содержание домов",
    "utilities": "Коммунальные услуги",
    "landscaping": "Благоустройство",
    "waste": "Вывоз мусора",
    "healthcare": "Здравоохранение",
    "education": "Образование",
    "social_support": "Социальная поддержка",
    "environment": "Экология",
    "stray_animals": "Бездомные животные",
    "safety": "Безопасность",
    "other": "Прочее",
}

PLATFORMS = {
    "vk": "ВКонтакте",
    "ok": "Одноклассники",
    "telegram": "Telegram",
    "pos": "Госуслуги «Решаем вместе»",
    "rss": "СМИ (RSS)",
    "web": "Сайты и форумы",
    "other": "Другие",
}

# Values the SQL writes itself (placeholders, answer kinds, which clock ran out).
VALUES = {
    "(unrouted)": "(ведомство не назначено)",
    "(not found)": "(не определён)",
    "interim": "промежуточный",
    "final": "окончательный",
    "first reaction": "первая реакция",
    "final answer": "окончательный ответ",
    "enrich": "разбор",
    "dedup": "поиск копий",
    "group": "группировка",
    "respond": "ответы",
    "sink": "запись",
    "schema": "не по схеме",
    "invalid_json": "не JSON",
    "invalid_encoding": "не UTF-8",
    "unknown_region": "неизвестный регион",
}

# Column aliases of the dashboards' SQL → column headers.
COLUMNS = {
    "region": "Регион",
    "incidents": "Инцидентов",
    "closed": "Закрыто",
    "closed_on_time": "Закрыто в срок",
    "open_overdue": "Открыто с просрочкой",
    "open_in_time": "Открыто, срок не истёк",
    "compliance_pct": "Соблюдение сроков, %",
    "answers": "Ответов",
    "median_h": "Медиана, ч",
    "p90_h": "90-й процентиль, ч",
    "mean_h": "Среднее, ч",
    "interim_median_h": "Медиана промежуточного ответа, ч",
    "final_median_h": "Медиана окончательного ответа, ч",
    "category": "Категория",
    "appeals": "Обращений",
    "mentions": "Упоминаний",
    "duplicates": "Копий",
    "duplicates_pct": "Доля копий, %",
    "sla_breaches": "Нарушений сроков",
    "median_answer_h": "Медиана ответа, ч",
    "p90_answer_h": "90-й процентиль ответа, ч",
    "source": "Источник",
    "platform": "Площадка",
    "municipality": "Муниципалитет",
    "critical": "Критичных",
    "agency": "Ведомство",
    "opened": "Открыто инцидентов",
    "final_answers": "Окончательных ответов",
    "incident": "Инцидент",
    "posts": "Публикаций",
    "title": "Суть (начало первой публикации)",
    "overdue": "Просрочена",
    "due": "Срок истёк (UTC)",
    "post": "Публикация",
    "first_reaction_median_h": "Первая реакция, медиана, ч",
    "first_reaction_p90_h": "Первая реакция, 90-й процентиль, ч",
    "kind": "Вид ответа",
    "error_kind": "Причина",
    "stage": "Этап",
    "messages": "Сообщений",
    "example": "Пример",
}

# A column whose alias means something else in one panel.
COLUMN_IN_PANEL = {("Overdue incidents", "opened"): "Открыт (UTC)"}

# Dashboard, row and panel titles.
TITLES = {
    "Incidents — federal overview": "Все регионы",
    "Incidents — region": "Муниципалитеты, ведомства, просрочки",
    "Incidents — agency SLA": "Сроки по ведомствам",
    "Incidents — pipeline health": "Работа конвейера",
    "Appeals and incidents by region": "Обращения и инциденты по регионам",
    "SLA and answer times by region": "Сроки и время ответа по регионам",
    "What residents write about": "О чём пишут жители",
    "Where appeals come from": "Откуда приходят обращения",
    "Appeals": "Обращения",
    "Agencies and answer times": "Ведомства и время ответа",
    "Overdue incidents": "Просроченные инциденты",
    "Compliance": "Соблюдение сроков",
    "Breaches over time": "Нарушения сроков во времени",
    "Answer times": "Время ответа",
    "What reached ClickHouse": "Что записано в хранилище",
    "SLA compliance by region": "Соблюдение сроков по регионам",
    "Answer time by region, hours (median, p90, mean)": "Время ответа по регионам, часы",
    "Top categories": "Категории обращений",
    "Regions ranked": "Регионы по числу обращений",
    "Top sources": "Источники, из которых приходит больше всего обращений",
    "Municipalities": "Муниципалитеты",
    "Platforms": "Площадки",
    "Agencies": "Ведомства",
    "SLA compliance per agency and category": "Соблюдение сроков по ведомствам и категориям",
    "Answer time per agency and category, hours": ("Время ответа по ведомствам и категориям, часы"),
    "Dead letters by kind (ClickHouse)": "Отклонённые сообщения по причинам",
    "Duplicates by platform (ClickHouse)": "Копии и репосты по площадкам",
}

# What a section or a table means, for a reader without the docs.
NOTES = {
    "Incidents — federal overview": (
        "Обращения, инциденты, соблюдение сроков и время ответа по всем регионам."
    ),
    "Incidents — region": (
        "Все регионы вместе: муниципалитеты, площадки, ведомства, просроченные инциденты."
    ),
    "Incidents — agency SLA": "Соблюдение сроков и время ответа по ведомствам и категориям.",
    "Incidents — pipeline health": (
        "Для инженеров: что конвейер отклонил и сколько копий отсеял. Пропускная способность, "
        "задержки и лаг — на дашборде Grafana «Incidents — pipeline health»."
    ),
    "SLA compliance by region": (
        "Соблюдение сроков = закрыто в срок / (закрыто + открыто с просрочкой), по инцидентам, "
        "открытым за период; худшие регионы сверху."
    ),
    "Answer time by region, hours (median, p90, mean)": (
        "Время от первой публикации инцидента до каждого официального ответа. "
        "90-й процентиль: 9 ответов из 10 даны быстрее."
    ),
    "Regions ranked": "Регионы по числу обращений, с инцидентами, нарушениями и временем ответа.",
    "Top sources": "Сообщества, каналы и порталы; недели с понедельника по воскресенье.",
    "Municipalities": "Обращения и упоминания по муниципалитетам; копии не считаются обращениями.",
    "Agencies": (
        "Открыто — инцидентов направлено ведомству за период; закрыто — из них получили "
        "окончательный ответ или закрыты (как в «Соблюдении сроков»)."
    ),
    "Overdue incidents": (
        "Открытые инциденты, у которых истёк срок первой реакции или окончательного ответа; "
        "дольше всех просроченные сверху. Суть открывает первую публикацию."
    ),
    "SLA compliance per agency and category": (
        "Соблюдение сроков = закрыто в срок / (закрыто + открыто с просрочкой). Первая "
        "реакция — время от первой публикации до первого ответа любого вида."
    ),
    "Dead letters by kind (ClickHouse)": "Сообщения, которые не удалось разобрать, по причинам.",
}


def column(name: str, panel: str = "") -> str:
    """The header of a column, or the alias itself when it has no label (a test forbids)."""
    return COLUMN_IN_PANEL.get((panel, name)) or COLUMNS.get(name, name)


def title(text: str) -> str:
    return TITLES.get(text, text)


@cache
def region_names() -> dict[str, str]:
    """ISO 3166-2 code → the region's Russian name, from the gazetteer's table."""
    path = DATA / "regions.csv"
    with path.open(encoding="utf-8") as f:
        return {row["code"]: row["name"] for row in csv.DictReader(f)}


def value(column_name: str, v: str) -> str:
    """A cell's text in Russian where it is a code (category, platform, region, kind)."""
    if column_name == "category":
        return CATEGORIES.get(v, v)
    if column_name == "platform":
        return PLATFORMS.get(v, v)
    if column_name == "region":
        return region_names().get(v, v) if v else "(не определён)"
    return VALUES.get(v, v)


def plural(n: int, one: str, few: str, many: str) -> str:
    """The Russian form for a count: 1 запись, 2 записи, 5 записей (11-14: many)."""
    if n % 10 == 1 and n % 100 != 11:
        return one
    if 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14:
        return few
    return many


def not_stored(n: int, days: int) -> str:
    """The pipeline-health line for a backfill older than the retention."""
    stored = "не сохранена" if plural(n, "1", "2", "5") == "1" else "не сохранены"
    return (
        f"{n} {plural(n, 'запись', 'записи', 'записей')} старше срока хранения "
        f"({days} {plural(days, 'день', 'дня', 'дней')}) {stored}: загрузка истории, "
        "срок задаёт INCIDENTS_CLICKHOUSE_TTL_DAYS."
    )

# ruff: noqa: E501  (a data module: prose and tables read better unwrapped)
"""Build the bundled demo sample that ``make demo`` replays.

Everything in the sample is fiction written for this project (Apache-2.0, like
the project): posts, people, ids and URLs are invented. Cities and streets are
real so that the gazetteer has something to find; rss/web hosts use the
reserved ``.example`` domain; vk, ok and Telegram ids only follow the
platforms' formats and may coincide with real ones by chance.

``python -m incidents.ops.demo.build_sample`` rewrites, byte for byte:

- ``sample/mentions.jsonl``   RawMention v1 lines as a connector would publish
  them, sorted by time, with reposts, re-polls (redeliveries) and bad input;
- ``sample/labels.jsonl``     one line per mentions line: what we meant it to be
  (appeal, non-appeal, copy of which post, which problem, category, place);
- ``sample/responses.jsonl``  OfficialResponse v1 answers from agencies.

One fixed seed, no clock, no environment, stdlib only. Reading order:

  regions, cities, sources    the world the posts come from
  GROUPS                      problems reported by several residents (incidents)
  APPEALS                     single resident appeals
  OTHERS, notices()           non-appeals: news, announcements, ads, thanks, chatter
  COPIES                      reposts and near-copies: which post copies which
  REDELIVERIES, INVALID       connector re-polls and bad input
  RESPONSES                   official answers
  build()                     times, ids, authors, metrics, rendering

Why this module is long: most of it is data (the fictional posts, copies, answers
and their labels), written as Python so that one seed renders the sample byte for
byte with the stdlib only; the code is ``build()`` and its helpers at the end.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from incidents.contracts import topology

SEED = 20261116
SAMPLE_DIR = Path(__file__).resolve().parent / "sample"
YEAR, MONTH = 2026, 11

# ---------------------------------------------------------------------------
# The world: regions, cities, sources
# ---------------------------------------------------------------------------

#: region code -> UTC offset in hours (posts carry the offset of their source's region)
REGION_OFFSETS: dict[str, int] = {
    "RU-TVE": 3,
    "RU-IVA": 3,
    "RU-MOW": 3,
    "RU-SPE": 3,
    "RU-NIZ": 3,
    "RU-SVE": 5,
    "RU-NVS": 7,
}
FEDERAL_OFFSET = 3  # federal channels post on Moscow time


@dataclass(frozen=True)
class City:
    """A municipality; ``name`` is canonical as in shared/data/ru-cities.csv."""

    name: str
    region: str
    lat: float
    lon: float


CITIES: dict[str, City] = {
    c.name: c
    for c in (
        City("Тверь", "RU-TVE", 56.8586, 35.9117),
        City("Ржев", "RU-TVE", 56.2629, 34.3291),
        City("Торжок", "RU-TVE", 57.0413, 34.9602),
        City("Вышний Волочек", "RU-TVE", 57.5683, 34.5404),
        City("Иваново", "RU-IVA", 56.9994, 40.9728),
        City("Кинешма", "RU-IVA", 57.4425, 42.1689),
        City("Шуя", "RU-IVA", 56.8560, 41.3801),
        City("Новосибирск", "RU-NVS", 55.0282, 82.9211),
        City("Бердск", "RU-NVS", 54.7582, 83.1071),
        City("Искитим", "RU-NVS", 54.6268, 83.2951),
        City("Москва", "RU-MOW", 55.7540, 37.6204),
        City("Санкт-Петербург", "RU-SPE", 59.9391, 30.3159),
        City("Нижний Новгород", "RU-NIZ", 56.3241, 44.0054),
        City("Дзержинск", "RU-NIZ", 56.2376, 43.4599),
        City("Арзамас", "RU-NIZ", 55.3946, 43.8409),
        City("Екатеринбург", "RU-SVE", 56.8385, 60.6055),
    )
}


@dataclass(frozen=True)
class Src:
    """A community, channel, chat, feed or portal that posts reach us from."""

    key: str
    platform: str
    sid: str
    name: str
    kind: str
    region_hint: str | None  # what the source registry says; None = not registered
    home: str | None  # whose clock the source posts by; None = federal (Moscow time)
    host: str | None = None  # rss/web only


def _sources() -> dict[str, Src]:
    # fmt: off
    rows: list[tuple[str, str, str, str, str, str | None, str | None, str | None]] = [
        # key, platform, source id, name, kind, region_hint, home, host
        # --- Тверская область
        ("tve_pub", "vk", "-41237765", "Тверь. Городская лента", "city_public", "RU-TVE", "RU-TVE", None),
        ("tve_ok", "ok", "53394871", "Тверь — наш город", "city_public", "RU-TVE", "RU-TVE", None),
        ("tve_adm", "vk", "-20017455", "Администрация города Твери", "official", "RU-TVE", "RU-TVE", None),
        ("tve_gov", "telegram", "-1001633209471", "Правительство Тверской области", "official", "RU-TVE", "RU-TVE", None),
        ("tve_chat", "telegram", "-1001847360211", "Соседи на Склизкова", "chat", "RU-TVE", "RU-TVE", None),
        ("tve_media", "rss", "tverlenta", "Тверская лента", "media", "RU-TVE", "RU-TVE", "tverlenta.example"),
        ("tve_news", "vk", "-18820734", "Верхневолжье. Новости", "media", "RU-TVE", "RU-TVE", None),
        ("rzhev_ok", "ok", "55123981", "Ржевитяне", "city_public", "RU-TVE", "RU-TVE", None),
        ("rzhev_vk", "vk", "-91522304", "Ржев | Народные новости", "city_public", "RU-TVE", "RU-TVE", None),
        ("rzhev_chat", "telegram", "-1001722045518", "Ржев — чат города", "chat", None, "RU-TVE", None),
        ("rzhev_adm", "vk", "-17742290", "Администрация Ржевского муниципального округа", "official", "RU-TVE", "RU-TVE", None),
        ("torzhok_vk", "vk", "-60214478", "Торжок сегодня", "city_public", None, "RU-TVE", None),
        ("torzhok_chat", "telegram", "-1001590331872", "Торжок | Чат", "chat", "RU-TVE", "RU-TVE", None),
        ("vvol_vk", "vk", "-47781023", "Вышний Волочёк — наш город", "city_public", "RU-TVE", "RU-TVE", None),
        ("pos_tve", "pos", "pos-69", "Госуслуги «Решаем вместе» — Тверская область", "portal", "RU-TVE", "RU-TVE", None),
        # --- Ивановская область
        ("iva_pub", "vk", "-36650127", "Иваново — город невест | Обращения", "city_public", "RU-IVA", "RU-IVA", None),
        ("iva_ok", "ok", "52087743", "Иваново — наш город", "city_public", "RU-IVA", "RU-IVA", None),
        ("iva_chat", "telegram", "-1001903318840", "Куконковых 144 — чат дома", "chat", "RU-IVA", "RU-IVA", None),
        ("iva_adm", "vk", "-19550381", "Администрация города Иванова", "official", "RU-IVA", "RU-IVA", None),
        ("iva_gov", "telegram", "-1001488120554", "Правительство Ивановской области", "official", "RU-IVA", "RU-IVA", None),
        ("iva_media", "rss", "ivlenta37", "Ивановская лента 37", "media", "RU-IVA", "RU-IVA", "ivlenta37.example"),
        ("iva_tg_news", "telegram", "-1001760044917", "Иваново: оперативно", "media", "RU-IVA", "RU-IVA", None),
        ("kin_vk", "vk", "-70033914", "Кинешма онлайн", "city_public", "RU-IVA", "RU-IVA", None),
        ("kin_ok", "ok", "56730012", "Кинешемцы", "city_public", "RU-IVA", "RU-IVA", None),
        ("shuya_ok", "ok", "57418820", "Шуя — наш город", "city_public", "RU-IVA", "RU-IVA", None),
        ("shuya_vk", "vk", "-81107356", "Подслушано в Шуе", "city_public", None, "RU-IVA", None),
        ("pos_iva", "pos", "pos-37", "Госуслуги «Решаем вместе» — Ивановская область", "portal", "RU-IVA", "RU-IVA", None),
        # --- Новосибирская область
        ("nvs_pub", "vk", "-28816530", "НСК: город и люди", "city_public", "RU-NVS", "RU-NVS", None),
        ("nvs_chat", "telegram", "-1001675502391", "Петухова 120 | Соседи", "chat", "RU-NVS", "RU-NVS", None),
        ("nvs_left", "telegram", "-1001811472066", "Левобережье НСК — чат", "chat", "RU-NVS", "RU-NVS", None),
        ("nvs_mayor", "vk", "-26470119", "Мэрия Новосибирска", "official", "RU-NVS", "RU-NVS", None),
        ("nvs_gov", "telegram", "-1001509927743", "Правительство Новосибирской области", "official", "RU-NVS", "RU-NVS", None),
        ("nvs_media", "rss", "sibl54", "Сибирская лента 54", "media", "RU-NVS", "RU-NVS", "sibl54.example"),
        ("nvs_tg_news", "telegram", "-1001934471120", "Новосибирск: оперативно", "media", "RU-NVS", "RU-NVS", None),
        ("berdsk_vk", "vk", "-54330981", "Бердск. Народная лента", "city_public", "RU-NVS", "RU-NVS", None),
        ("berdsk_chat", "telegram", "-1001688230419", "Бердск — чат города", "chat", "RU-NVS", "RU-NVS", None),
        ("berdsk_adm", "vk", "-41580266", "Администрация города Бердска", "official", "RU-NVS", "RU-NVS", None),
        ("iskitim_ok", "ok", "58812034", "Искитим — наш дом", "city_public", None, "RU-NVS", None),
        ("iskitim_vk", "vk", "-66109842", "Искитим | Новости и обращения", "city_public", "RU-NVS", "RU-NVS", None),
        ("pos_nvs", "pos", "pos-54", "Госуслуги «Решаем вместе» — Новосибирская область", "portal", "RU-NVS", "RU-NVS", None),
        # --- Москва
        ("mow_pub", "vk", "-35512009", "Марьино — район", "city_public", "RU-MOW", "RU-MOW", None),
        ("mow_chat", "telegram", "-1001720983356", "Люблинская 153 — соседи", "chat", "RU-MOW", "RU-MOW", None),
        ("mow_chat2", "telegram", "-1001741166028", "Профсоюзная 104 — чат дома", "chat", "RU-MOW", "RU-MOW", None),
        ("mow_uprava", "telegram", "-1001588240719", "Управа района Марьино", "official", "RU-MOW", "RU-MOW", None),
        ("mow_tg_news", "telegram", "-1001877520314", "Марьино LIVE", "media", "RU-MOW", "RU-MOW", None),
        ("mow_forum", "web", "maryino-forum", "Форум жителей Марьино", "chat", "RU-MOW", "RU-MOW", "maryino-forum.example"),
        ("mow_media", "rss", "mosgorlenta", "Московская городская лента", "media", "RU-MOW", "RU-MOW", "mosgorlenta.example"),
        # --- Санкт-Петербург
        ("spe_pub", "vk", "-29904417", "Купчино | Подслушано", "city_public", "RU-SPE", "RU-SPE", None),
        ("spe_vo", "vk", "-31448095", "Васильевский остров — жители", "city_public", "RU-SPE", "RU-SPE", None),
        ("spe_chat", "telegram", "-1001822903471", "Белы Куна 20 — двор", "chat", "RU-SPE", "RU-SPE", None),
        ("spe_vo_chat", "telegram", "-1001790066581", "Васильевский — чат", "chat", "RU-SPE", "RU-SPE", None),
        ("spe_adm", "vk", "-24430116", "Администрация Фрунзенского района Санкт-Петербурга", "official", "RU-SPE", "RU-SPE", None),
        ("spe_tg_news", "telegram", "-1001966310874", "Петербург: оперативно", "media", "RU-SPE", "RU-SPE", None),
        ("spe_media", "rss", "spblenta", "Петербургская городская лента", "media", "RU-SPE", "RU-SPE", "spblenta.example"),
        ("pos_spe", "pos", "pos-78", "Госуслуги «Решаем вместе» — Санкт-Петербург", "portal", "RU-SPE", "RU-SPE", None),
        # --- Нижегородская область
        ("niz_pub", "vk", "-38877201", "Автозавод НН | Соседи", "city_public", "RU-NIZ", "RU-NIZ", None),
        ("niz_chat", "telegram", "-1001744815902", "Автозаводский район — чат", "chat", "RU-NIZ", "RU-NIZ", None),
        ("niz_adm", "vk", "-27740655", "Администрация Нижнего Новгорода", "official", "RU-NIZ", "RU-NIZ", None),
        ("niz_tg_news", "telegram", "-1001902277461", "Нижний: оперативно", "media", "RU-NIZ", "RU-NIZ", None),
        ("niz_media", "rss", "nnlenta", "Нижегородская лента", "media", "RU-NIZ", "RU-NIZ", "nnlenta.example"),
        ("dzr_vk", "vk", "-48201177", "Подслушано Дзержинск", "city_public", "RU-NIZ", "RU-NIZ", None),
        ("dzr_chat", "telegram", "-1001711093428", "Дзержинск — чат города", "chat", None, "RU-NIZ", None),
        ("arz_ok", "ok", "54490276", "Арзамас — наш город", "city_public", "RU-NIZ", "RU-NIZ", None),
        ("pos_niz", "pos", "pos-52", "Госуслуги «Решаем вместе» — Нижегородская область", "portal", "RU-NIZ", "RU-NIZ", None),
        # --- Свердловская область
        ("sve_pub", "vk", "-33019562", "Екатеринбург | Центр", "city_public", "RU-SVE", "RU-SVE", None),
        ("sve_chat", "telegram", "-1001765120983", "Малышева 120 — соседи", "chat", "RU-SVE", "RU-SVE", None),
        ("sve_tg_news", "telegram", "-1001938204417", "Екатеринбург: оперативно", "media", "RU-SVE", "RU-SVE", None),
        ("sve_media", "rss", "urallenta", "Уральская лента", "media", "RU-SVE", "RU-SVE", "urallenta.example"),
        ("pos_sve", "pos", "pos-66", "Госуслуги «Решаем вместе» — Свердловская область", "portal", "RU-SVE", "RU-SVE", None),
        # --- federal: no region in the registry
        ("fed_tg", "telegram", "-1001500921346", "Регионы России: оперативно", "media", None, None, None),
        ("fed_media", "rss", "gorrus", "Городская Россия", "media", None, None, "gorrus.example"),
        ("fed_forum", "web", "domdvor-forum", "Форум «Дом и двор»", "chat", None, None, "domdvor-forum.example"),
    ]
    # fmt: on
    return {r[0]: Src(*r) for r in rows}


SOURCES: dict[str, Src] = _sources()

#: The sample has appeals of every category but the catch-all.
CATEGORIES: tuple[str, ...] = tuple(c for c in topology.CATEGORIES if c != topology.OTHER_CATEGORY)
TOPICS: tuple[str, ...] = (
    "news",  # local media reports
    "announcement",  # agencies announce works, outages, services
    "ad",
    "thanks",
    "chatter",  # questions to neighbours, lost and found, small talk
    "joke",
    "opinion",  # views on the authorities and how they communicate
    "meta",  # texts ABOUT appeals, roads, housing that are not an appeal
)


# ---------------------------------------------------------------------------
# Posts and how they are declared
# ---------------------------------------------------------------------------


@dataclass
class Post:
    """One post as we intend it; ``build()`` turns it into a RawMention line."""

    src: str
    when: str  # "DD HH:MM", local time of the source's region, November 2026
    text: str
    kind: str  # appeal | non_appeal | copy | invalid
    city: str | None = None
    category: str | None = None
    problem: str | None = None
    urgent: bool = False
    topic: str | None = None
    key: str | None = None
    reply_to: str | None = None  # key of the post this comment answers
    author: str | None = None  # "src": the community; "f"/"m": gender the text needs; or a persona
    geo: bool | None = None  # None: portal posts usually, others rarely
    copy_of: str | None = None  # key of the copied post
    ops: tuple[tuple[Any, ...], ...] = ()  # how the copy was made
    error: str | None = None  # invalid lines: the DLQ error kind
    breakage: str | None = None  # invalid lines: what is broken
    # filled by build()
    at: datetime | None = field(default=None, repr=False)
    mid: str | None = field(default=None, repr=False)
    url: str | None = field(default=None, repr=False)


def appeal(
    src: str,
    when: str,
    city: str,
    category: str,
    text: str,
    *,
    key: str | None = None,
    urgent: bool = False,
    reply_to: str | None = None,
    author: str | None = None,
    geo: bool | None = None,
) -> Post:
    """A single resident appeal (no other resident reports the same problem)."""
    return Post(
        src,
        when,
        text,
        "appeal",
        city=city,
        category=category,
        urgent=urgent,
        key=key,
        reply_to=reply_to,
        author=author,
        geo=geo,
    )


def report(
    src: str,
    when: str,
    text: str,
    *,
    key: str | None = None,
    reply_to: str | None = None,
    author: str | None = None,
    geo: bool | None = None,
) -> Post:
    """One resident's report of a group's problem; ``group()`` fills in the rest."""
    return Post(src, when, text, "appeal", key=key, reply_to=reply_to, author=author, geo=geo)


def group(
    problem: str, category: str, city: str, *reports: Post, urgent: bool = False
) -> list[Post]:
    """Several residents, one problem: the pipeline should make one incident of them."""
    return [
        replace(r, city=city, category=category, problem=problem, urgent=urgent) for r in reports
    ]


def other(
    src: str,
    when: str,
    topic: str,
    text: str,
    *,
    city: str | None = None,
    key: str | None = None,
    reply_to: str | None = None,
    author: str | None = None,
    geo: bool | None = None,
) -> Post:
    """A non-appeal: news, announcement, ad, thanks, chatter, joke, opinion, meta."""
    return Post(
        src,
        when,
        text,
        "non_appeal",
        city=city,
        topic=topic,
        key=key,
        reply_to=reply_to,
        author=author,
        geo=geo,
    )


def repost(of: str, src: str, when: str, *ops: tuple[Any, ...], key: str | None = None) -> Post:
    """A copy of the post with key ``of`` as another community republishes it."""
    return Post(src, when, "", "copy", copy_of=of, ops=tuple(ops), key=key, author="src")


# ---------------------------------------------------------------------------
# Incident groups: the same problem, reported by different residents in
# different words, on different platforms and hours. Keys ending in "-pos"
# etc. are referenced by COPIES and RESPONSES below.
# ---------------------------------------------------------------------------

# fmt: off
GROUPS: list[Post] = [
    # Тверь, a pothole on ул. Склизкова (5 reports). Hard negatives elsewhere:
    # a broken playground at Склизкова, 52; the post office question; a news item
    # that lists Склизкова among roads to repair.
    *group("tve-pothole-sklizkova", "roads", "Тверь",
        report("tve_pub", "16 08:12", "Админ, опубликуйте пожалуйста. На Склизкова напротив дома 48 яма на полдороги, глубокая, сегодня утром двое пробили колёса. Её засыпали щебнем в октябре и всё вымыло. Когда уже нормально сделают?", key="tve-pothole-a"),
        report("tve_chat", "16 09:40", "соседи, аккуратнее на выезде со двора на склизкова, у 48-го дома яма как кратер 🕳 я в неё в темноте влетел, диск погнул", key="tve-pothole-b", author="m"),
        report("pos_tve", "16 14:05", "Прошу принять меры по ремонту дорожного покрытия на ул. Склизкова в районе дома № 48. На проезжей части образовалась выбоина размером около 1,5 × 1 м и глубиной до 20 см, которая представляет опасность для транспорта. Ранее выполненная подсыпка щебнем разрушена.", key="tve-pothole-pos"),
        report("tve_adm", "17 11:20", "Вы лучше яму на Склизкова у 48 дома заделайте, а то отчитываетесь красиво, а ездить невозможно. Три дня уже все её объезжают", reply_to="tve-adm-roadworks"),
        report("tve_ok", "18 07:55", "СКЛИЗКОВА 48 — ЯМА!!! Сколько можно!!! Третий день все объезжают по встречке, до аварии недалеко. Кто-нибудь вообще этим занимается?"),
    ),
    # Тверь, street lights out on бульвар Радищева (3). Hard negative: lights at
    # a bus stop on Волоколамское шоссе.
    *group("tve-lights-radishcheva", "landscaping", "Тверь",
        report("tve_pub", "16 18:30", "На бульваре Радищева от Трёхсвятской до Советской не горят фонари, вечером идти страшно, темень полная. Уже неделю так. Там же люди с работы идут, дети с кружков.", key="tve-lights-a"),
        report("tve_ok", "17 19:10", "Почему на бульваре Радищева темно? Ни один фонарь не работает, люди с фонариками на телефонах ходят 🔦 Центр города называется"),
        report("pos_tve", "18 10:02", "На бульваре Радищева (участок между ул. Трёхсвятской и ул. Советской) в течение недели не работает уличное освещение. Прошу восстановить освещение на данном участке."),
    ),
    # Ржев, bus No. 4 skips the morning run (3).
    *group("tve-bus4-rzhev", "public_transport", "Ржев",
        report("rzhev_ok", "16 07:35", "Опять автобус №4 в 7:10 не пришёл, на остановке «Вокзал» стояло человек двадцать. Дети в школу опоздали, взрослые на работу. Что с четвёркой происходит?", key="rzhev-bus-a"),
        report("rzhev_chat", "17 07:50", "четверка снова пропустила утренний рейс. минус 8, мы на остановке у вокзала 40 минут простояли. перевозчик вообще в курсе что у него расписание есть?"),
        report("pos_tve", "18 08:30", "В г. Ржеве на маршруте № 4 систематически не выполняются утренние рейсы (отправление в 7:10 от остановки «Вокзал»). Прошу проверить работу перевозчика и обеспечить соблюдение расписания."),
    ),
    # Торжок, no heating in one building (4).
    *group("tve-heating-torzhok", "utilities", "Торжок",
        report("torzhok_vk", "16 21:15", "В доме на Дзержинского, 92 батареи ледяные, в квартире +15. У нас маленький ребёнок, спим в куртках. УК трубку не берёт. Что делать?", key="torzhok-heat-a"),
        report("torzhok_vk", "16 22:40", "поддерживаю, мы тоже с Дзержинского 92, третий подъезд, батареи чуть тёплые. позвонили в аварийку — сказали воздух в системе, никто так и не пришёл", reply_to="torzhok-heat-a"),
        report("pos_tve", "17 09:10", "В многоквартирном доме по адресу: г. Торжок, ул. Дзержинского, д. 92 с 15 ноября отсутствует отопление. Температура в квартирах не превышает +15 °С. Управляющая компания на обращения жильцов не реагирует. Прошу принять меры.", key="torzhok-heat-pos"),
        report("torzhok_chat", "18 08:05", "Дзержинского 92 — до сих пор холодно. Дети уже болеют. Куда ещё писать? В УК были, в администрацию звонили"),
    ),
    # Вышний Волочёк, a container site not collected (3).
    *group("tve-waste-shmidta", "waste", "Вышний Волочек",
        report("vvol_vk", "17 10:20", "Контейнерная площадка у дома 25 на улице Шмидта переполнена, мусор уже вокруг баков, вороны и собаки растаскивают по двору. Не вывозят с пятницы."),
        report("vvol_vk", "18 09:00", "Шмидта 25 — помойка! Мешки лежат прямо на дороге. Регоператор, вы где?? 🤢🤢 #ВышнийВолочек"),
        report("pos_tve", "18 16:45", "г. Вышний Волочёк, ул. Шмидта, д. 25: нарушен график вывоза ТКО, контейнеры переполнены, отходы складируются на прилегающей территории. Прошу организовать вывоз отходов."),
    ),
    # Тверь, a cold school (2).
    *group("tve-school17-cold", "education", "Тверь",
        report("tve_pub", "17 13:00", "В школе №17 в кабинетах +14, дети сидят на уроках в куртках. Учителя говорят — котельная. Родители, у вас тоже так? Может, вместе напишем?"),
        report("pos_tve", "17 16:40", "В МОУ СОШ № 17 г. Твери температура воздуха в учебных кабинетах не превышает +14…+15 °С, что не соответствует санитарным нормам. Прошу принять меры по восстановлению теплового режима в здании школы."),
    ),
    # Иваново, no hot water in one building for three days (6).
    *group("iva-hotwater-kukonkovykh", "utilities", "Иваново",
        report("iva_chat", "16 19:05", "Соседи, у всех нет горячей воды? Куконковых 144, второй подъезд, с утра только холодная идёт", key="iva-hw-a", author="iva_lena"),
        report("iva_pub", "17 08:40", "Второй день без горячей воды в доме на Куконковых, 144. Никаких объявлений не было, в УК говорят «авария на сетях», сроков не называют. Ребёнка купать нечем!", key="iva-hw-b"),
        report("iva_chat", "17 20:15", "в 144 так и нет горячей. греем в кастрюлях как в 90-х 🙃", reply_to="iva-hw-a"),
        report("pos_iva", "18 09:30", "По адресу: г. Иваново, ул. Куконковых, д. 144 третьи сутки отсутствует горячее водоснабжение. Информация о причинах и сроках устранения жильцам не предоставлена. Прошу восстановить ГВС и сообщить сроки.", key="iva-hw-pos"),
        report("iva_ok", "18 12:10", "ТРЕТИЙ ДЕНЬ нет горячей воды на Куконковых 144!!! Сколько можно!!! В управляющей компании отвечают что это не их вопрос", key="iva-hw-e"),
        report("iva_adm", "18 15:00", "А когда на Куконковых горячую воду дадите? 144 дом, три дня уже сидим без неё, вы про другие адреса пишете, а про нас ни слова", reply_to="iva-adm-hotwater", author="iva_lena"),
    ),
    # Иваново, ice in one yard (3). Hard negative: snow in a Новосибирск yard.
    *group("iva-ice-sheremetevsky", "landscaping", "Иваново",
        report("iva_pub", "18 08:10", "Во дворе дома 8 на Шереметевском проспекте сплошной каток, пенсионерка вчера упала и сломала руку. Дворника не видели с начала зимы."),
        report("iva_ok", "18 13:30", "Шереметевский 8, двор — лёд, ни песка ни соли. Ходим по стеночке. Управляйка, посыпьте уже хоть чем-нибудь!"),
        report("pos_iva", "19 09:15", "Прошу обязать управляющую организацию обработать противогололёдными материалами придомовую территорию дома № 8 по Шереметевскому проспекту. Во дворе сплошная наледь, зафиксированы случаи падения жителей."),
    ),
    # Кинешма, the clinic cannot be reached (3).
    *group("iva-clinic-kineshma", "healthcare", "Кинешма",
        report("kin_vk", "16 10:30", "В поликлинику на Гагарина невозможно дозвониться, регистратура не отвечает с 8 утра. Записаться к терапевту через Госуслуги — нет талонов на две недели вперёд. Как лечиться?"),
        report("kin_ok", "17 11:45", "Кинешма, поликлиника на Гагарина — очередь в регистратуру стоит на улице, люди с температурой на морозе. Это нормально вообще?"),
        report("pos_iva", "17 15:20", "В поликлинике на ул. Гагарина г. Кинешмы отсутствует возможность записи к терапевту: телефон регистратуры не отвечает, электронная запись недоступна в течение двух недель. Прошу принять меры по организации записи на приём."),
    ),
    # Шуя, stray dogs at school No. 2 (4).
    *group("iva-dogs-shuya", "stray_animals", "Шуя",
        report("shuya_ok", "16 16:10", "У школы №2 на Свердлова бегает стая собак, штук семь. Утром дети идут в школу — собаки за ними. Вчера девочку за рюкзак схватили. Кто этим должен заниматься?", key="shuya-dogs-a"),
        report("shuya_vk", "17 08:20", "мамочки, будьте осторожны на Свердлова у второй школы, собаки агрессивные, мы с сыном еле отбились 😡 сумкой отмахивалась", author="f"),
        report("pos_iva", "17 12:00", "В районе МОУ СОШ № 2 г. Шуи (ул. Свердлова) постоянно находится стая безнадзорных собак (6–8 особей), проявляющих агрессию к детям. Прошу организовать отлов животных.", key="shuya-dogs-pos"),
        report("shuya_ok", "19 17:30", "Собаки у второй школы так и бегают. Пока кого-нибудь не покусают, никто не пошевелится? Уже и в администрацию писали"),
    ),
    # Новосибирск, a container site not collected for a week (5).
    *group("nvs-waste-petukhova", "waste", "Новосибирск",
        report("nvs_chat", "16 12:10", "Кто-нибудь знает, почему площадку у 120-го дома не вывозят? Баки полные ещё с прошлой среды"),
        report("nvs_pub", "16 18:45", "Петухова, 120 — контейнерная площадка превратилась в свалку. Мусор не вывозят неделю, пакеты лежат до самой дороги, крысы бегают среди бела дня. Фото в комментариях", key="nvs-waste-b"),
        report("pos_nvs", "17 10:05", "Нарушается график вывоза ТКО с контейнерной площадки по адресу: г. Новосибирск, ул. Петухова, 120. Отходы не вывозятся более 7 дней, территория вокруг площадки захламлена. Прошу принять меры к региональному оператору.", key="nvs-waste-pos"),
        report("nvs_chat", "17 21:30", "баки на Петухова 120 так и стоят полные, уже коробки на крыше трансформаторной будки лежат 🤦‍♀️", key="nvs-waste-d"),
        report("nvs_mayor", "18 09:10", "Уважаемая мэрия, Петухова 120 — неделю не вывозят мусор. Это вообще чья зона ответственности?", reply_to="nvs-mayor-snow"),
    ),
    # Бердск, no heating at −25 (4, urgent).
    *group("nvs-heating-berdsk", "utilities", "Бердск",
        report("berdsk_vk", "17 06:50", "На улице −25, а в доме на Ленина, 37 батареи холодные с вечера!!! Дети в шапках сидят. Аварийка говорит порыв, ждите. СКОЛЬКО ЖДАТЬ?", key="berdsk-heat-a"),
        report("berdsk_chat", "17 08:15", "Ленина 37 без отопления со вчерашнего вечера, в квартире +13. у кого есть лишние обогреватели? у соседки бабушка лежачая"),
        report("pos_nvs", "17 09:40", "г. Бердск, ул. Ленина, д. 37: с вечера 16.11 отсутствует теплоснабжение при температуре наружного воздуха −25 °С. В квартирах +12…+14 °С, в доме проживают дети и маломобильные граждане. Прошу срочно восстановить отопление.", key="berdsk-heat-pos"),
        report("berdsk_vk", "17 17:20", "Ленина 37 — так и нет тепла. Почти сутки. Пожилые соседи лежат в куртках. Администрация Бердска, отзовитесь!"),
        urgent=True,
    ),
    # Искитим, a broken wire hanging over a pavement (3, urgent).
    *group("nvs-wire-iskitim", "safety", "Искитим",
        report("iskitim_ok", "18 09:25", "На Пушкина возле дома 45 висит оборванный провод прямо над тротуаром, почти до земли. Рядом детский сад! Сделайте что-нибудь, пока никого не убило.", key="iskitim-wire-a"),
        report("iskitim_vk", "18 10:40", "Внимание! ул. Пушкина у д.45 провод висит низко, дети ходят рядом. Позвонила в электросети — «заявка принята». Обходите это место!", author="f"),
        report("pos_nvs", "18 11:55", "г. Искитим, ул. Пушкина, в районе дома № 45: оборван провод воздушной линии, провисает над пешеходной частью на высоте около 1 м. Угроза жизни пешеходов, рядом детский сад. Прошу срочно устранить.", key="iskitim-wire-pos"),
        urgent=True,
    ),
    # Новосибирск, the 36 minibus from площадь Маркса (3).
    *group("nvs-bus36-marksa", "public_transport", "Новосибирск",
        report("nvs_pub", "16 08:05", "Маршрутка 36 от площади Маркса — это отдельный квест. 40 минут на морозе, три штуки прошли забитые и не остановились. Опоздала на работу второй раз за неделю.", author="f"),
        report("nvs_left", "17 08:30", "36-я опять не ходит, с остановки «Площадь Маркса» полчаса никого. кто знает, её сократили что ли?"),
        report("pos_nvs", "18 09:00", "Прошу проверить соблюдение интервала движения на маршруте № 36 (остановка «Площадь Маркса»). В утренние часы интервал превышает 30–40 минут, транспорт проезжает остановку без остановки из-за переполнения."),
    ),
    # Москва, a lift out of order (3).
    *group("mow-lift-lyublinskaya", "housing", "Москва",
        report("mow_chat", "16 10:15", "Лифт в 3-м подъезде 153 дома опять встал. 17 этаж, у меня коляска. Звонила диспетчеру, сказали до вечера", author="mow_katya"),
        report("mow_pub", "17 19:00", "Люблинская, 153 — лифт в третьем подъезде не работает третий день. Пожилые люди с верхних этажей не могут выйти из квартир. Объявлений никаких, диспетчер отвечает «ждите».", key="mow-lift-b"),
        report("mow_chat", "18 09:30", "лифт в 3 подъезде так и не починили. поднимала коляску на 17 этаж с соседом. это издевательство", author="mow_katya"),
    ),
    # Санкт-Петербург, a leaking roof on Васильевский остров (3).
    *group("spe-roof-vo", "housing", "Санкт-Петербург",
        report("spe_vo", "16 13:20", "7-я линия ВО, дом 40 — после дождей течёт крыша, на пятом этаже вода по стенам, обои отвалились. Жилкомсервис с сентября обещает «в порядке очереди».", key="spe-roof-a"),
        report("pos_spe", "17 11:00", "Прошу провести ремонт кровли многоквартирного дома по адресу: Санкт-Петербург, 7-я линия В.О., д. 40. При осадках происходит протечка в квартиры верхнего этажа. Обращения в управляющую организацию с сентября результата не дали."),
        report("spe_vo_chat", "18 14:30", "у нас на 7-й линии, 40 опять льёт с потолка, таз уже не спасает. кто-нибудь добивался ремонта крыши через ГЖИ? как это делается?"),
    ),
    # Санкт-Петербург, a child fell into an open manhole (4, urgent). Hard
    # negative: a sunken manhole on the road at Будапештская.
    *group("spe-manhole-kupchino", "safety", "Санкт-Петербург",
        report("spe_pub", "17 17:40", "СРОЧНО! Во дворе дома 20 на Белы Куна открытый люк без крышки, ребёнок сейчас провалился, слава богу достали, ушибы. Люк ничем не огорожен!!! Уже темно, ещё кто-нибудь упадёт", key="spe-manhole-a"),
        report("spe_chat", "17 18:05", "Соседи, люк у 20-го дома открыт, мальчик туда упал. поставила рядом санки, чтобы видно было. звоните в аварийку кто может, я уже звонила", author="f"),
        report("pos_spe", "17 19:30", "Во дворе дома 20 по ул. Белы Куна отсутствует крышка смотрового колодца. Сегодня в колодец упал ребёнок. Прошу срочно закрыть колодец и установить ограждение.", key="spe-manhole-pos"),
        report("spe_pub", "18 09:10", "Люк на Белы Куна 20 так и открыт, только ленточку кто-то натянул. Вчера там ребёнок упал! Ждём следующего?"),
        urgent=True,
    ),
    # Нижний Новгород, a smell of gas in a stairwell (3, urgent).
    *group("niz-gas-lenina15", "utilities", "Нижний Новгород",
        report("niz_pub", "18 20:10", "Во втором подъезде дома 15 на проспекте Ленина сильно пахнет газом, на всех этажах. Позвонили в 04, пока никто не приехал. Соседи, не курите в подъезде!", key="niz-gas-a"),
        report("niz_chat", "18 20:25", "запах газа в подъезде пр. Ленина 15, прям сильный. газовая служба едет уже 40 минут. кто на первом этаже — откройте окна на лестнице"),
        report("niz_pub", "18 21:40", "пр Ленина 15 — газом так и пахнет, газовики приехали, походили и уехали, сказали «не обнаружено». Но запах есть!!! Мы боимся спать", reply_to="niz-gas-a"),
        urgent=True,
    ),
    # Дзержинск, a chemical smell over the city (4). The media item about the
    # same smell (OTHERS) is news, not an appeal.
    *group("niz-smell-dzerzhinsk", "environment", "Дзержинск",
        report("dzr_vk", "16 22:15", "Опять весь город в химической вони, на Циолковского не продохнуть, глаза слезятся. Что выбрасывают по ночам?", key="dzr-smell-a"),
        report("dzr_chat", "16 22:40", "кто ещё чувствует запах? у нас на Гагарина как будто хлоркой с чем-то сладким пахнет. окна закрыли, ребенок кашляет"),
        report("pos_niz", "17 09:05", "В вечернее и ночное время 16.11 в г. Дзержинске (пр. Циолковского, ул. Гагарина) ощущался резкий химический запах. Прошу провести замеры качества атмосферного воздуха и установить источник выбросов."),
        report("dzr_vk", "17 23:30", "Вторую ночь подряд воняет химией. Дзержинск, ну сколько можно!!! Дети кашляют, у меня голова раскалывается. Где замеры, где проверки?"),
    ),
    # Екатеринбург, a burst hot-water pipe flooded a basement (3, urgent).
    # Hard negative: the broken intercom in the same building and chat.
    *group("sve-flood-malysheva", "utilities", "Екатеринбург",
        report("sve_chat", "18 07:20", "в подвале 120-го кипяток, пар валит из продухов, на первом этаже полы горячие. УК в курсе вообще?"),
        report("sve_pub", "18 09:45", "Малышева, 120: прорвало трубу горячей воды, подвал затоплен, из подвальных окон валит пар, в подъездах сыро и пахнет. Аварийка приезжала ночью, перекрыла и уехала, а вода так и стоит.", key="sve-flood-b"),
        report("pos_sve", "18 12:30", "Прошу принять меры по откачке воды из подвала дома по адресу: г. Екатеринбург, ул. Малышева, д. 120. В результате порыва трубопровода ГВС подвал затоплен, в подъездах повышенная влажность."),
        urgent=True,
    ),
]
# fmt: on

# ---------------------------------------------------------------------------
# Single appeals: one resident, one problem.
# ---------------------------------------------------------------------------

# fmt: off
APPEALS: list[Post] = [
    # --- Тверская область
    appeal("tve_pub", "16 07:45", "Тверь", "roads", "На Петербургском шоссе в сторону Мигалово после поворота на Химинститут разбита правая полоса, колея по колено. Ремонтировали летом, уже всё разъехалось. Куда смотрел заказчик?"),
    appeal("pos_tve", "16 11:20", "Тверь", "roads", "Прошу восстановить дорожное покрытие на проезде вдоль дома № 12 по ул. Хромова. После замены трубопровода в сентябре асфальт не восстановлен, проезд засыпан песком и щебнем, образовались глубокие колеи."),
    appeal("tve_ok", "16 17:50", "Тверь", "landscaping", "не горят фонари на Волоколамском шоссе у остановки «Мебельная фабрика». выходишь из автобуса и в темноту, машины не видят людей. второй вечер так"),
    appeal("tve_chat", "17 10:05", "Тверь", "landscaping", "во дворе склизкова 52 сломали детскую площадку — качели висят на одной цепи, у горки дыра с острыми краями, ребёнок поцарапался. кто за неё отвечает, УК или город?"),
    appeal("tve_pub", "17 21:30", "Тверь", "public_transport", "Как добираться с Южного после 21:00? Автобус №11 вечером ходит раз в час, а то и реже. Такси по 500 рублей каждый день не наездишься. Верните нормальный интервал!"),
    appeal("pos_tve", "18 13:10", "Тверь", "public_transport", "В автобусах маршрута № 33 не работают терминалы для оплаты проезда банковскими картами, водители требуют наличные. Прошу обеспечить возможность безналичной оплаты проезда."),
    appeal("tve_pub", "16 20:40", "Тверь", "housing", "В подъезде на Можайского, 71 уже месяц не горит свет на 3–5 этажах, ходим с фонариком. УК: «заявку передали электрику». Электрик, видимо, в отпуске до весны 🙃"),
    appeal("rzhev_ok", "17 14:25", "Ржев", "housing", "Ржев, ул. Разина 21 — крыша течёт второй год, в квартире на 5 этаже плесень по углам. Куда только не писали. Капремонт обещали в 2025-м, и где он?"),
    appeal("tve_pub", "18 06:55", "Тверь", "utilities", "В Заволжском районе на Бурашевском шоссе опять нет холодной воды, с шести утра. Никаких объявлений! Как на работу собираться? Кто знает, надолго?"),
    appeal("pos_tve", "19 10:40", "Ржев", "utilities", "В доме № 9 по ул. Декабристов г. Ржева периодически отключается электроснабжение (3–4 раза в сутки), вышла из строя бытовая техника. Прошу провести проверку состояния электрических сетей."),
    appeal("tve_pub", "19 12:15", "Тверь", "waste", "Около гаражей за домом 30 по проспекту Чайковского кто-то устроил свалку: старые диваны, строительный мусор, покрышки. Растёт с каждым днём. Там же рядом школа."),
    appeal("torzhok_vk", "18 19:30", "Торжок", "waste", "На Старицкой площадку не вывозили с понедельника, баки забиты, пакеты ставим рядом, а что делать? Тариф за мусор платим исправно, между прочим"),
    appeal("tve_pub", "19 15:05", "Тверь", "healthcare", "Детская поликлиника на Советской: чтобы попасть к педиатру с температурящим ребёнком, просидели в коридоре 2,5 часа. Кабинет один, очередь на лестнице. Когда добавят врачей?"),
    appeal("vvol_vk", "17 12:40", "Вышний Волочек", "healthcare", "В Вышнем Волочке в поликлинике нет ЛОРа уже полгода, всех направляют в Тверь. Пенсионерам ездить за 120 км на приём — это нормально??"),
    appeal("tve_chat", "18 18:20", "Тверь", "education", "в садике на проспекте Победы третью неделю нет воспитателя в младшей группе, детей раскидывают по другим группам по 30+ человек. заведующая разводит руками. куда жаловаться?"),
    appeal("pos_tve", "17 14:50", "Торжок", "education", "Прошу рассмотреть вопрос организации подвоза учащихся из д. Высокое к школе № 5 г. Торжка. Дети ходят около 3 км вдоль автодороги без тротуара и освещения."),
    appeal("tve_pub", "18 11:35", "Тверь", "social_support", "Многодетным обещали компенсацию за школьную форму, заявление подала в августе в соцзащиту на ул. Советская, 15 — до сих пор ни ответа, ни денег. Кто-то вообще получил?", author="f"),
    appeal("pos_tve", "19 16:20", "Ржев", "social_support", "Прошу разъяснить причину отказа в назначении ежемесячной выплаты на ребёнка. Отказ получен без указания оснований, в МФЦ г. Ржева пояснить причину не смогли."),
    appeal("tve_pub", "20 08:30", "Тверь", "environment", "Из трубы котельной на Коминтерна по ночам валит чёрный дым, утром на подоконниках сажа. Дышать нечем. Проверьте уже, чем они там топят."),
    appeal("vvol_vk", "19 13:15", "Вышний Волочек", "environment", "В канал у Казанского проспекта опять что-то сливают, вода мутная, пена, запах. Утки дохлые на берегу лежат. Куда звонить?? #ВышнийВолочёк"),
    appeal("tve_ok", "19 09:50", "Тверь", "stray_animals", "У рынка на Хромова стая собак, кидаются на прохожих и велосипедистов. Вчера соседку укусили, ездила в травмпункт на уколы. Отловом кто-нибудь занимается?"),
    appeal("tve_pub", "17 15:45", "Тверь", "safety", "Внимание! На углу Тверского проспекта и Вагжанова сорвало кусок кровли, лист железа висит над тротуаром и громыхает на ветру. Прохожие идут прямо под ним! Оградите кто-нибудь!!!", key="tve-roofsheet", urgent=True),
    appeal("rzhev_vk", "18 17:10", "Ржев", "safety", "На набережной Волги в Ржеве сломаны перила у спуска к воде, дыра метра два. Там гуляют с детьми, вечером темно — кто-нибудь упадёт в воду."),
    appeal("rzhev_ok", "19 11:05", "Ржев", "roads", "Мост через Волгу — ямы на въезде с обеих сторон, машины прыгают как на трамплине. Когда уже ремонт? Ржев не деревня"),
    appeal("vvol_vk", "16 15:30", "Вышний Волочек", "landscaping", "Во дворе дома 14 на Красноармейской тополь наклонился прямо над детской площадкой, корни вылезли. Ветер посильнее — и рухнет на детей. Кто его спилит?"),
    appeal("torzhok_vk", "19 18:00", "Торжок", "roads", "Ленинградское шоссе в Торжке — сплошная колея, фуры разбили всё. Зимой это будет каток с рельсами. Дорожники, алё!"),
    appeal("vvol_vk", "20 10:10", "Вышний Волочек", "housing", "Платим за содержание жилья, а в подъезде не убирались с лета, почтовые ящики сломаны, окно на 2 этаже без стекла — заколотили фанерой. Двор Пролетариата, 5."),
    appeal("tve_adm", "17 10:40", "Тверь", "utilities", "А горячую воду на Орджоникидзе 46 когда дадите? Обещали к 15-му, уже 17-е. Про ремонт дорог пишете, а про воду молчок", reply_to="tve-adm-roadworks"),
    # --- Ивановская область
    appeal("iva_pub", "16 09:15", "Иваново", "roads", "На Лежневской у поворота к торговому центру разбитый асфальт, ямы по всей полосе. Автобусы объезжают по встречке. Ну сколько можно латать одно и то же место каждую весну?"),
    appeal("pos_iva", "16 13:40", "Иваново", "roads", "На участке ул. Кавалерийской от ул. Генерала Хлебникова до пр. Строителей разрушено асфальтовое покрытие проезжей части, многочисленные выбоины. Прошу включить участок в план ремонта."),
    appeal("iva_pub", "17 22:05", "Иваново", "public_transport", "Троллейбус №3 по вечерам не дождаться: по табло 5 минут — стоим 25. Приложение врёт, диспетчер трубку не берёт. Как людям с работы добираться?"),
    appeal("kin_vk", "18 07:05", "Кинешма", "public_transport", "Почему отменили автобус до Заволжска в 6:40? Люди на работу ездят, теперь только на такси. Никто даже не предупредил"),
    appeal("iva_ok", "16 12:35", "Иваново", "housing", "Управляющая компания на 8 Марта, 32 выставила в квитанции «ремонт подъезда» 40 тысяч на дом, а ремонта не было. Как проверить, куда ушли деньги?"),
    appeal("pos_iva", "18 15:45", "Шуя", "housing", "В доме № 17 по ул. Кооперативной г. Шуи протекает канализационный стояк в подвале, в подъезде стоит запах. Управляющая компания на заявки не реагирует. Прошу провести проверку."),
    appeal("iva_pub", "19 20:20", "Иваново", "utilities", "Микрорайон ТЭЦ-3, дом 6 — батареи еле тёплые, в квартире +17, ребёнок болеет. Стояки не прогревают, говорят «идёт регулировка». Сколько она будет идти?"),
    appeal("kin_ok", "18 10:15", "Кинешма", "utilities", "В Кинешме на Вичугской опять нет воды! Третий раз за неделю. Водоканал, вы нормально работать будете? Хоть бы объявление повесили"),
    appeal("iva_pub", "20 11:30", "Иваново", "waste", "Во дворе дома 20 на проспекте Строителей контейнеры поставили прямо под окна первого этажа, летом вонь, сейчас крысы. Просили перенести — тишина."),
    appeal("shuya_ok", "18 12:50", "Шуя", "waste", "Шуя, улица Свердлова 100: бак сгорел ещё в октябре, новый так и не поставили, мусор кидают прямо на землю. Скоро до дороги дойдёт"),
    appeal("pos_iva", "19 11:10", "Иваново", "landscaping", "Прошу восстановить освещение на центральной пешеходной аллее парка «Харинка». Фонари не работают около двух недель, пешеходы передвигаются в темноте."),
    appeal("kin_vk", "19 14:35", "Кинешма", "landscaping", "Во дворе на Ленина, 23 упавшее дерево лежит с сентябрьского урагана, перегородило проход к подъезду. Так и лежит, мы через сугроб обходим."),
    appeal("iva_pub", "17 16:00", "Иваново", "healthcare", "В аптеках нет инсулина по льготным рецептам, в поликлинике говорят «ждите поставку». Мама диабетик, сколько ждать? Покупать за свои — 4 тысячи упаковка."),
    appeal("iva_ok", "19 08:25", "Иваново", "education", "В школе №26 с ноября закрыли продлёнку. Работающим родителям куда девать первоклашек после 12:00? Нам никто ничего не объяснил"),
    appeal("pos_iva", "16 10:55", "Иваново", "social_support", "Прошу оказать содействие в обеспечении инвалида I группы техническим средством реабилитации (кресло-коляска). Заявка подана в июне 2026 года, до настоящего времени не исполнена."),
    appeal("kin_vk", "20 09:45", "Кинешма", "social_support", "Пенсию по потере кормильца пересчитали, и стало меньше на три тысячи. В соцфонде ответить не могут, отправляют в Иваново. Помогите разобраться, пожалуйста"),
    appeal("iva_pub", "18 17:55", "Иваново", "environment", "На Уводи у моста на Садовой кто-то сливает что-то маслянистое, радужные пятна по всей воде. Рыбаки говорят — каждый вечер. Экологи, ау"),
    appeal("iva_ok", "17 09:40", "Иваново", "stray_animals", "На Ташкентской сбитая собака лежит у обочины второй день, дети в школу мимо ходят. Кто должен убрать? Звонила в две службы — отфутболивают", author="f"),
    appeal("iva_pub", "19 13:50", "Иваново", "safety", "На Парижской Коммуны, 9 из подвала идёт дым, пахнет горелым! Пожарных вызвали, ждём. Соседи из первого подъезда, выходите на улицу!!!", key="iva-smoke", urgent=True),
    appeal("iva_pub", "19 22:40", "Иваново", "housing", "Хочу обратить внимание администрации и ГЖИ на нашу управляющую компанию. Дом на Лежневской, 117, пятиэтажка 1968 года. За последний год: крыша течёт над третьим подъездом, в подвале стоит вода, в подъездах не убирают, лампочки меняем сами. На собрании обещали ремонт кровли летом — лето прошло. Заявки в диспетчерскую «теряются», письменные обращения остаются без ответа больше месяца. При этом тариф на содержание с июля подняли. Соседи готовы подписаться под коллективной жалобой. Просим провести проверку и разобраться, куда идут наши деньги!"),
    appeal("shuya_vk", "20 12:30", "Шуя", "roads", "Мост через Тезу — ограждение сбили в аварии ещё месяц назад, так и висит кусок, рядом пустота. Ночью не видно. Опасно же!"),
    # --- Новосибирская область
    appeal("nvs_pub", "16 09:50", "Новосибирск", "roads", "Красный проспект в сторону Заельцовского — колея такая, что машину кидает. Её каждую зиму «заливают», а весной опять. 🤬"),
    appeal("pos_nvs", "16 15:30", "Новосибирск", "roads", "На ул. Сибиряков-Гвардейцев у дома № 49 отсутствует пешеходный переход, хотя к остановке общественного транспорта идёт интенсивный пешеходный поток. Прошу рассмотреть обустройство регулируемого пешеходного перехода."),
    appeal("berdsk_vk", "18 13:20", "Бердск", "roads", "Вокзальная в Бердске: после прокладки трубы засыпали траншею песком и уехали. Теперь там яма поперёк дороги, машины днищем цепляют. Кто подрядчик?"),
    appeal("nvs_pub", "17 08:45", "Новосибирск", "public_transport", "Метро «Заельцовская» — эскалатор опять на ремонте, вверх пешком. С коляской вообще никак, лифта нет. Предупреждать надо заранее!"),
    appeal("iskitim_ok", "17 06:40", "Искитим", "public_transport", "Электричку на Новосибирск в 6:12 отменили без всякого объявления, на платформе толпа, все опоздали на работу. Хоть бы в приложении написали"),
    appeal("nvs_pub", "19 21:10", "Новосибирск", "housing", "Дом на Титова, 28: УК не закрывает чердак, там ночуют бездомные, жгут что-то. Мы боимся пожара. Писали председателю — без толку. Помогите!"),
    appeal("pos_nvs", "18 16:00", "Новосибирск", "housing", "Прошу провести проверку управляющей организации, обслуживающей дом № 5 по ул. Бориса Богаткова: в подъездах не производится уборка, не работает освещение, двери подвала не закрываются."),
    appeal("nvs_left", "19 09:35", "Новосибирск", "utilities", "на станиславского 14 отключили свет в 2 часа ночи и до сих пор нет. холодильник потёк, интернет не работает. кто знает — авария или плановое?"),
    appeal("pos_nvs", "19 18:30", "Искитим", "utilities", "В мкр. Подгорный г. Искитима низкое давление холодной воды: в вечерние часы на третий этаж и выше вода не поступает. Прошу принять меры."),
    appeal("nvs_pub", "20 10:25", "Новосибирск", "waste", "Академгородок, Морской проспект — урны у остановок не вычищали неделю, всё вокруг в стаканчиках и пакетах. Наукоград, называется"),
    appeal("pos_nvs", "20 12:40", "Бердск", "waste", "На въезде в мкр. Южный г. Бердска вдоль объездной дороги образовалась несанкционированная свалка строительных отходов площадью около 200 м². Прошу ликвидировать свалку и установить ограничители въезда."),
    appeal("nvs_pub", "18 07:30", "Новосибирск", "landscaping", "Горский микрорайон, двор у дома 61 — снег не убирают вообще, машины не могут выехать, вчера скорая не проехала к подъезду! Носилки несли через сугробы", key="nvs-gorsky"),
    appeal("pos_nvs", "20 09:15", "Новосибирск", "landscaping", "Прошу восстановить наружное освещение во дворе дома № 18 по ул. Галущака. Светильники не работают с начала ноября, во дворе детская площадка."),
    appeal("nvs_pub", "16 23:40", "Новосибирск", "healthcare", "Скорую ждали 1 час 40 минут к бабушке с давлением 200. Октябрьский район. Диспетчер: «все бригады на вызовах». Это как вообще?!"),
    appeal("berdsk_vk", "19 10:50", "Бердск", "healthcare", "В Бердской больнице опять нет талонов к неврологу, и записи на декабрь тоже нет. Ездить в Новосибирск платно — не у всех есть такие деньги."),
    appeal("nvs_left", "18 19:45", "Новосибирск", "education", "в гимназии на Фрунзе 35 человек в классе, парт не хватает, сидят за одной партой по трое. это как? кто-то из родителей уже писал в департамент?"),
    appeal("pos_nvs", "19 14:10", "Новосибирск", "social_support", "Прошу разобраться с задержкой выплаты регионального материнского капитала: заявление подано 12.08.2026, решение о выплате принято, средства до сих пор не поступили."),
    appeal("nvs_left", "17 07:55", "Новосибирск", "environment", "Левобережье утром в дымке, пахнет гарью — опять «чёрное небо»? Частный сектор на Станционной жжёт всё подряд, дышать невозможно, у ребёнка астма"),
    appeal("nvs_pub", "19 17:05", "Новосибирск", "stray_animals", "На Фрунзе у гаражей живёт стая собак, по вечерам кидаются на людей, идущих с остановки. Отлавливать вообще кто-то будет? Или ждём трагедии?"),
    appeal("nvs_pub", "20 13:55", "Новосибирск", "safety", "На Бориса Богаткова с крыши свисают огромные сосульки прямо над входом в магазин, люди ходят под ними. УК не реагирует, на звонки не отвечает!", urgent=True),
    appeal("berdsk_vk", "18 14:40", "Бердск", "safety", "На Красной Сибири трещина в плите балкона на 4 этаже, вчера кусок бетона упал на тротуар! Хорошо, что никого не было. Дом аварийный или как?", urgent=True),
    appeal("nvs_pub", "20 16:30", "Новосибирск", "public_transport", "Пишу от имени жителей жилмассива Плющихинский. Нас здесь уже больше двадцати тысяч, а общественный транспорт — два автобусных маршрута, которые по утрам приходят битком. На остановке «Плющихинский» в 7:30 стоит толпа, многие уходят пешком до Гусинобродского шоссе, а это 20 минут по нечищеной обочине. Продлить троллейбус обещали ещё три года назад. Просим добавить рейсы в часы пик и честно сказать, когда будет новый маршрут. Сколько ещё ждать?"),
    appeal("iskitim_ok", "19 12:00", "Искитим", "roads", "Искитим, Комсомольская — светофор у рынка не работает с утра, машины едут кто как, пешеходы перебегают. До ДТП недолго!"),
    # --- Москва
    appeal("mow_pub", "16 09:05", "Москва", "roads", "Братиславская, выезд с дублёра — огромная лужа во всю полосу, ливнёвку забило листьями. Машины окатывают людей на остановке с головы до ног."),
    appeal("mow_pub", "17 20:30", "Москва", "landscaping", "В парке 850-летия на набережной не горит половина фонарей, вечером бегать страшно. Весной всё красиво открывали, а обслуживать кто будет?"),
    appeal("mow_forum", "16 14:20", "Москва", "housing", "Люблинская, 163: в подъезде круглосуточно стоит запах из мусоропровода, за год ни разу не промывали. Жилищник на заявки отвечает «выполнено», а по факту ничего."),
    appeal("mow_chat2", "18 07:10", "Москва", "utilities", "С утра нет горячей воды, объявлений не было. У кого-нибудь есть информация? Профсоюзная 104, второй корпус"),
    appeal("mow_pub", "19 08:40", "Москва", "public_transport", "После изменения маршрутов до метро «Марьино» теперь 35 минут вместо 15, с пересадкой. Кто это планировал? Верните прямой автобус!"),
    appeal("mow_pub", "18 12:05", "Москва", "waste", "Новочеркасский бульвар, 20: площадку для крупногабарита завалили, а вывозят раз в неделю. Шкафы и диваны стоят прямо на газоне."),
    appeal("mow_forum", "19 19:40", "Москва", "healthcare", "В поликлинике на Марьинском бульваре нет записи к эндокринологу на месяц вперёд, в ЕМИАС пишет «нет свободных талонов». Что делать диабетикам?"),
    appeal("mow_chat", "19 16:45", "Москва", "education", "в школе после ремонта в спортзале до сих пор пахнет краской, дети жалуются на головную боль. родители, давайте вместе напишем директору и в департамент"),
    appeal("mow_pub", "20 18:10", "Москва", "safety", "На Люблинской у дома 157 раскопали тротуар, ограждения нет, ночью не видно, люди падают в траншею. Вчера мужчина ногу подвернул", urgent=True),
    appeal("mow_forum", "20 21:15", "Москва", "environment", "Опять над Марьином запах сероводорода — с очистных? Вечером окно не открыть. Кто-то измеряет вообще?"),
    appeal("mow_forum", "17 12:30", "Москва", "social_support", "Подал документы на городскую выплату через mos.ru, заявление висит «на рассмотрении» третий месяц. Позвонить некуда, чат отвечает шаблонами.", author="m"),
    appeal("mow_pub", "16 19:25", "Москва", "roads", "Профсоюзная, переход у поликлиники: зелёный горит 15 секунд, пожилые не успевают перейти даже до середины. Увеличьте время, пожалуйста."),
    # --- Санкт-Петербург
    appeal("spe_pub", "16 08:35", "Санкт-Петербург", "roads", "Будапештская у метро — люк провалился на проезжей части, машины влетают с грохотом. Поставили бы хоть конус, пока кто-нибудь колесо не оторвал."),
    appeal("spe_pub", "17 22:50", "Санкт-Петербург", "public_transport", "Автобус 159 вечером ходит раз в 30 минут, из Купчино от метро не уехать. Приложение показывает одно, а на деле — другое."),
    appeal("spe_vo", "18 11:15", "Санкт-Петербург", "housing", "Парадная на 10-й линии, 23 — домофон сломан месяц, дверь открыта, ночуют посторонние, мусорят. ЖКС: «нет запчастей». Месяц нет запчастей?"),
    appeal("pos_spe", "19 09:20", "Санкт-Петербург", "utilities", "По адресу: пр. Просвещения, д. 87, корп. 2 в течение пяти суток отсутствует горячее водоснабжение в связи с аварийными работами. Прошу сообщить сроки восстановления ГВС."),
    appeal("spe_pub", "19 14:40", "Санкт-Петербург", "waste", "Бухарестская, 72 — контейнеры без крышек, мусор разносит ветром по всему двору, чайки дерутся над баками. Можно как-то по-человечески?"),
    appeal("spe_vo", "16 16:45", "Санкт-Петербург", "landscaping", "На Большом проспекте ВО спилили здоровые липы и ничего не посадили, остались пни. Кто разрешил? Будут ли новые деревья?"),
    appeal("spe_vo_chat", "17 09:50", "Санкт-Петербург", "healthcare", "участковый терапевт в поликлинике на 21-й линии принимает раз в неделю, в остальное время «на больничном». запись через Госуслуги — только платные приёмы"),
    appeal("pos_spe", "18 10:35", "Санкт-Петербург", "education", "Прошу принять меры по обеспечению местом в детском саду ребёнка 2023 г. р. (Невский район). Очередь не продвигается с мая, ответы на запросы формальные."),
    appeal("spe_pub", "20 09:55", "Санкт-Петербург", "environment", "В Купчино с утра запах гари и дымка. Говорят, горит что-то на промзоне за Софийской. Кто-нибудь проверяет воздух? Дети на улице"),
    appeal("spe_vo", "19 07:30", "Санкт-Петербург", "safety", "11-я линия, 54 — прорвало водосточную трубу, на тротуаре сплошная наледь, а сверху свисают сосульки. Ограждения нет! Люди идут прямо под ними", urgent=True),
    appeal("spe_pub", "18 21:05", "Санкт-Петербург", "stray_animals", "в подвале на Славы 30 мяукают котята, продухи закрыли сеткой, их не выпускают и не кормят уже неделю. помогите кто может, в УК не берут трубку 😢", key="spe-kittens"),
    appeal("spe_vo_chat", "20 15:20", "Санкт-Петербург", "social_support", "пособие на ребёнка перестали платить с октября без объяснений. в СФР по телефону не дозвониться, на сайте «на рассмотрении». кто сталкивался?"),
    # --- Нижегородская область
    appeal("niz_pub", "16 11:45", "Нижний Новгород", "roads", "Автозавод, ул. Веденяпина — после ремонта теплотрассы асфальт так и не восстановили, щебёнка и яма. Машины бьют днища каждый день."),
    appeal("niz_chat", "17 08:10", "Нижний Новгород", "public_transport", "маршрутка т-40 по утрам не останавливается на Комсомольской площади, проезжает забитая. как на работу добираться? третий день опаздываю"),
    appeal("pos_niz", "17 13:30", "Дзержинск", "housing", "В доме № 61 по пр. Циолковского г. Дзержинска более 10 дней не работает лифт во втором подъезде. В доме 9 этажей, проживают пожилые граждане. Прошу принять меры."),
    appeal("arz_ok", "18 18:50", "Арзамас", "utilities", "В Арзамасе на Калинина третий день нет отопления! Дети болеют, на улице минус. Управляющая компания кивает на теплосети, теплосети на УК."),
    appeal("niz_pub", "19 10:05", "Нижний Новгород", "waste", "Сормово, Коминтерна: мусорные баки убрали, а новую площадку так и не поставили. Куда мусор девать — в лес нести?"),
    appeal("pos_niz", "19 15:10", "Нижний Новгород", "landscaping", "Прошу провести ремонт детской площадки во дворе дома № 25 по ул. Родионова: сломаны качели, из покрытия торчат металлические элементы, есть риск травм."),
    appeal("arz_ok", "17 16:30", "Арзамас", "healthcare", "Арзамас, больница: МРТ только платно, по ОМС очередь на три месяца. Маме после инсульта ждать нельзя. Где справедливость?"),
    appeal("niz_pub", "20 14:15", "Нижний Новгород", "education", "В школе на Старых Производственных в туалетах нет ни мыла, ни бумаги, двери кабинок не закрываются. Дети терпят до дома. Родительский комитет молчит"),
    appeal("dzr_vk", "18 16:20", "Дзержинск", "stray_animals", "У гаражей на Гагарина стая собак разорвала кошку на глазах у детей. Куда звонить по отлову? Номер из интернета не отвечает"),
    appeal("niz_adm", "19 19:50", "Нижний Новгород", "safety", "Площадь Горького — провалился асфальт прямо у пешеходного перехода, яма почти метр глубиной, ничем не огорожена! Сейчас темно, кто-нибудь упадёт", key="niz-sinkhole", reply_to="niz-adm-snow", urgent=True),
    # --- Свердловская область
    appeal("sve_pub", "16 10:40", "Екатеринбург", "roads", "На Космонавтов у Уралмаша колея и ямы возле трамвайных путей, рельсы торчат выше асфальта. Каждый день кто-то пробивает колесо"),
    appeal("sve_pub", "17 18:30", "Екатеринбург", "utilities", "ВИЗ, Токарей 44 — отопление еле греет, +16 в квартире, а на улице −18. Управляйка говорит, всё по нормативу. По какому?"),
    appeal("pos_sve", "18 09:05", "Екатеринбург", "landscaping", "Прошу организовать уборку снега на внутриквартальном проезде у дома № 8 по ул. Белинского. Проезд не убирается с начала снегопадов, затруднён проезд спецтранспорта."),
    appeal("sve_pub", "19 08:15", "Екатеринбург", "public_transport", "Трамвай 15 — ждёшь по 30 минут, а потом приходят три подряд. На остановке «Площадь 1905 года» в час пик не втиснуться."),
    appeal("pos_sve", "19 13:45", "Екатеринбург", "waste", "Контейнерная площадка у дома № 3 по ул. 8 Марта не огорожена, мусор разносится ветром по дворовой территории. Прошу обязать управляющую организацию установить ограждение."),
    appeal("sve_pub", "20 11:20", "Екатеринбург", "stray_animals", "Возле детской площадки на Шевченко живут собаки, бросаются на детей. Родители по очереди дежурят с палками. Где отлов?"),
    appeal("sve_pub", "20 15:40", "Екатеринбург", "roads", "Улица Белинского от Фрунзе до Декабристов — это позор для центра миллионного города. Асфальт весь в заплатках, поверх заплаток ямы, ливнёвка не работает, после каждой оттепели стоит озеро по щиколотку, и машины обливают пешеходов на остановке. Летом здесь меняли бордюры, сняли полосу асфальта и так и оставили щебёнку. Обращение на «Решаем вместе» закрыли с ответом «включено в план». В какой план и на какой год? Прошу дать конкретный ответ и сроки."),
    appeal("sve_chat", "19 20:35", "Екатеринбург", "housing", "в 4 подъезде домофон опять сломан, ключи не подходят, дверь держим кирпичом. кто-нибудь писал в УК? или мне написать?"),
]
# fmt: on

# ---------------------------------------------------------------------------
# Non-appeals: what a monitoring system sees far more often than appeals.
# Many mention roads, water, garbage or appeals without being one.
# ---------------------------------------------------------------------------

# fmt: off
OTHERS: list[Post] = [
    # --- Тверская область
    other("tve_media", "16 10:00", "news", "В Твери отремонтируют 40 дорог в 2027 году\nГородская администрация утвердила предварительный перечень объектов дорожного ремонта на следующий год. В списке — участки Петербургского шоссе, улиц Склизкова, Хромова и проспекта Победы. Общая протяжённость — около 38 км. Конкурсы на подряд планируют провести до марта.", city="Тверь", key="tve-news-40roads"),
    other("tve_adm", "17 09:30", "announcement", "Уважаемые жители! С 20 ноября в связи с ремонтом теплотрассы будет закрыто движение по ул. Хромова на участке от ул. Коминтерна до Волоколамского шоссе. Объезд — по ул. Маршала Конева. Работы продлятся до 5 декабря. Просим заранее планировать маршрут.", city="Тверь", key="tve-adm-hromova"),
    other("tve_adm", "17 08:00", "announcement", "На дорогах города сегодня работают 46 единиц техники: ведётся обработка проезжей части и тротуаров противогололёдными материалами, вывоз снега с центральных улиц. Продолжается ямочный ремонт на Петербургском шоссе и Волоколамском проспекте. Сообщить о проблеме можно через платформу «Решаем вместе».", city="Тверь", key="tve-adm-roadworks"),
    other("tve_gov", "16 12:30", "news", "Губернатор провёл совещание о ходе отопительного сезона. К теплу подключены все социальные объекты и 99,6% жилых домов. Поручено в течение суток отрабатывать каждое обращение жителей о недостаточном отоплении.", city=None),
    other("tve_media", "17 12:15", "meta", "Как подать жалобу на управляющую компанию: инструкция\n1. Напишите в УК письменно, в двух экземплярах, и сохраните второй с отметкой о приёме. Можно отправить заказным письмом с описью вложения.\n2. Если ответа нет 10 рабочих дней или он вас не устроил — обращайтесь в Государственную жилищную инспекцию, приложив копию первого обращения.\n3. Параллельно можно оставить сообщение на платформе «Решаем вместе» на Госуслугах: его увидят в Центре управления регионом.\nЧем подробнее описание (точный адрес, подъезд, фото, даты), тем быстрее реакция. Сохраняйте номера заявок и ответы.", city=None),
    other("tve_gov", "18 13:00", "meta", "ЦУР Тверской области подвёл итоги октября: поступило 2 950 сообщений от жителей, больше всего — о дорогах, ЖКХ и благоустройстве. Среднее время первого ответа — 3 часа 40 минут. Благодарим всех, кто сообщает о проблемах!", city=None),
    other("tve_pub", "16 13:30", "thanks", "Хочу поблагодарить водителя автобуса №2, который вчера вернул забытую мной сумку с документами. Вы меня очень выручили, спасибо огромное! Таких людей бы побольше", city="Тверь"),
    other("tve_ok", "18 20:20", "thanks", "Спасибо коммунальщикам! На Благоева наконец-то поменяли лампы в фонарях, светло как днём. Пишу, потому что обычно только ругаемся 🙂", city="Тверь"),
    other("tve_pub", "19 19:15", "ad", "Ремонт квартир под ключ в Твери: плитка, сантехника, электрика, натяжные потолки. Бесплатный замер и смета за 1 день. Гарантия 2 года. Пишите в личные сообщения!", city="Тверь"),
    other("tve_ok", "17 15:10", "ad", "Вывоз мусора, хлама, старой мебели и строительных отходов. Газель + грузчики, Тверь и область. Работаем без выходных, недорого! Звоните или пишите в ЛС 🚛", city="Тверь"),
    other("rzhev_ok", "18 15:40", "ad", "Продам зимнюю резину R16, б/у один сезон, 4 шт, состояние отличное. Ржев, самовывоз с Ленина. Цена договорная, звоните вечером.", city="Ржев"),
    other("tve_chat", "17 18:40", "chatter", "кто-нибудь знает до скольки сегодня работает почта на склизкова? хочу посылку забрать после работы, а там вечно очередь", city="Тверь"),
    other("tve_pub", "18 22:10", "chatter", "Потерялся кот! Рыжий, пушистый, с белой грудкой, откликается на Персик. Пропал 16 ноября в районе Южного. Нашедшему вознаграждение, пишите в комментарии 🙏", city="Тверь"),
    other("tve_pub", "16 07:10", "joke", "Зима в Твери снова наступила внезапно для дорожных служб ❄️😂 Всё как обычно: снег выпал, реагенты в пути #тверь #зима", city="Тверь", key="tve-joke-winter"),
    other("tve_pub", "19 21:50", "opinion", "Почему администрация отвечает в комментариях шаблонами? «Ваше обращение передано в профильное ведомство» — и всё, тишина. Раньше хоть звонили и объясняли, что будут делать.", city="Тверь"),
    other("rzhev_vk", "17 11:00", "news", "В Ржеве после ремонта открылся фельдшерско-акушерский пункт в посёлке Есинка. Приём ведёт фельдшер, работает пункт с понедельника по пятницу с 8 до 16.", city="Ржев"),
    other("torzhok_vk", "17 17:45", "news", "В Торжке завершили реставрацию фасада исторического здания на Калининском шоссе. Работы шли полтора года, следующий этап — благоустройство прилегающей площади.", city="Торжок"),
    other("vvol_vk", "18 19:00", "news", "В Вышнем Волочке прошёл городской турнир по мини-футболу среди школьных команд. Победила сборная школы № 6, второе место — у гимназии № 2. Поздравляем ребят! ⚽", city="Вышний Волочек"),
    other("rzhev_adm", "18 09:00", "announcement", "В связи с заменой участка водопровода 19 ноября с 10:00 до 16:00 возможны перебои с холодным водоснабжением на ул. Ленина (дома 2–40) и ул. Профсоюзной. Приносим извинения за временные неудобства.", city="Ржев"),
    other("tve_pub", "20 09:40", "chatter", "Подскажите, где в Твери можно сдать старую технику на переработку? Холодильник и две микроволновки. Не хочется просто выкидывать", city="Тверь"),
    other("tve_adm", "17 12:10", "thanks", "Спасибо, что заранее предупредили про Хромова, а то в прошлый раз узнали по факту, когда уже в пробке стояли", city="Тверь", reply_to="tve-adm-hromova"),
    other("tve_news", "16 16:20", "news", "Тверские школьники заняли первое место на межрегиональной олимпиаде по робототехнике. Команда из лицея собрала робота-сортировщика мусора 🤖", city="Тверь"),
    other("tve_ok", "19 14:15", "opinion", "Хорошо, что теперь можно написать в «Решаем вместе» и получить ответ. Писала про фонарь у дома — поменяли за три дня. Рекомендую, работает!", city="Тверь", author="f"),
    other("tve_chat", "19 10:30", "thanks", "яму на склизкова заделали наконец, вчера вечером ехал — ровно 👍 спасибо всем кто писал, видимо не зря", city="Тверь", author="m"),
    other("torzhok_chat", "19 20:10", "chatter", "Ребята, кто сегодня ехал из Твери по М-10 — пробка у Медного ещё стоит? Собираюсь выезжать через час", city="Торжок"),
    other("tve_news", "18 12:40", "news", "Сотрудники МЧС напоминают: выходить на лёд водоёмов Тверской области пока опасно, толщина льда не превышает 3–4 см. В выходные спасатели дежурят на берегах Волги и Тьмаки.", city=None),
    # --- Ивановская область
    other("iva_media", "16 08:30", "news", "В Иванове запустят новый троллейбусный маршрут до микрорайона Московский. Движение планируют открыть в декабре, интервал в часы пик — 12 минут.", city="Иваново"),
    other("iva_adm", "18 10:00", "announcement", "Уважаемые ивановцы! В связи с гидравлическими испытаниями тепловых сетей с 19 по 21 ноября будет отключено горячее водоснабжение по адресам: ул. Лежневская, 101–125; ул. Ташкентская, 84–96. Просим отнестись с пониманием.", city="Иваново", key="iva-adm-hotwater"),
    other("iva_gov", "17 14:00", "meta", "Рабочая группа ЦУР Ивановской области: за неделю поступило 1 830 сообщений, 72% получили ответ в течение 4 часов. Чаще всего жители пишут о дорогах, отоплении и вывозе мусора.", city=None, key="iva-gov-cur"),
    other("iva_media", "17 18:30", "meta", "Куда жаловаться, если нет горячей воды: памятка. Сначала — в аварийно-диспетчерскую службу вашей УК, затем в ресурсоснабжающую организацию. Если вода не появилась в течение суток, пишите в ГЖИ и на «Решаем вместе». Сохраняйте номера заявок.", city=None),
    other("iva_pub", "16 15:15", "thanks", "Благодарю врачей кардиологического отделения областной больницы за заботу о моём папе. Внимательные, терпеливые, всё объясняют. Низкий вам поклон!", city="Иваново"),
    other("iva_ok", "16 19:40", "ad", "Текстиль оптом и в розницу от производителя: постельное бельё, полотенца, трикотаж. Иваново, склад на Кохомском шоссе. Доставка по России!", city="Иваново"),
    other("kin_vk", "17 19:25", "chatter", "Девочки, посоветуйте хорошего стоматолога в Кинешме, чтобы и недорого, и не страшно 😅 Ребёнку 7 лет, боится до слёз", city="Кинешма", author="f"),
    other("iva_pub", "18 08:45", "joke", "Иваново — город невест, а ещё город луж 😂 Кто сегодня шёл пешком по Лежневской, тот меня поймёт. Резиновые сапоги — лучший аксессуар сезона", city="Иваново"),
    other("shuya_ok", "17 10:40", "news", "В Шуе стартовал конкурс «Лучший двор». Заявки принимаются до 15 декабря, победители получат средства на благоустройство по программе поддержки местных инициатив.", city="Шуя"),
    other("kin_ok", "16 14:00", "opinion", "Почему в новостях пишут, что всё отремонтировали, а у нас как было, так и есть? Вопрос риторический. Отчёты красивые, а выйдешь на улицу — другая картина.", city="Кинешма"),
    other("shuya_vk", "18 20:45", "chatter", "А где в Шуе теперь принимают документы на загранпаспорт? Раньше было в МФЦ на Васильевской, а сейчас говорят, переехали", city="Шуя"),
    other("iva_media", "19 10:20", "news", "Ивановская область получит дополнительно 480 млн рублей на ремонт дворов и общественных пространств в 2027 году. Перечень объектов сформируют по итогам голосования жителей.", city=None),
    other("iva_chat", "19 16:10", "thanks", "дали горячую!!! 🎉 проверила — идёт нормальная, не ржавая. спасибо всем кто писал и звонил, и сантехнику из 2 подъезда отдельное спасибо", city="Иваново", author="f"),
    other("iva_chat", "18 21:00", "chatter", "соседи, кто-нибудь нашёл ключи у второго подъезда? связка, три ключа и синий брелок от домофона. буду очень благодарна", city="Иваново", author="f"),
    other("iva_tg_news", "18 16:30", "news", "В Иванове на пересечении Лежневской и Бубнова столкнулись маршрутка и легковой автомобиль. По предварительным данным, пострадавших нет, движение затруднено в сторону центра.", city="Иваново"),
    other("kin_vk", "16 18:20", "news", "В Кинешме открылся новый каток у Дворца культуры. Вход бесплатный, прокат коньков — 200 рублей в час. Работает ежедневно с 12 до 21 часа ⛸", city="Кинешма"),
    # --- Новосибирская область
    other("nvs_media", "16 09:00", "news", "В Новосибирске открыли движение по новой развязке на Гусинобродском шоссе. Работы завершили на месяц раньше срока, в ближайшие дни нанесут разметку.", city="Новосибирск"),
    other("nvs_mayor", "18 08:00", "announcement", "На уборке снега сегодня работают более 400 единиц техники и 1 200 дорожных рабочих. В приоритете — остановки общественного транспорта, подходы к школам и поликлиникам. Просим водителей не оставлять машины у обочин на магистралях.", city="Новосибирск", key="nvs-mayor-snow"),
    other("nvs_gov", "16 11:00", "news", "С 1 декабря в Новосибирской области вводится новая региональная выплата семьям с тремя и более детьми на оплату услуг ЖКХ. Заявление можно подать через Госуслуги или в МФЦ.", city=None),
    other("nvs_gov", "19 12:00", "meta", "За октябрь в ЦУР Новосибирской области поступило более 4 тысяч сообщений жителей из соцсетей. Самые частые темы — уборка снега, отопление и общественный транспорт. Среднее время ответа сократилось до 5 часов.", city=None),
    other("nvs_tg_news", "16 21:00", "news", "Синоптики обещают до −28 в ночь на 18 ноября. Не оставляйте животных на улице, проверьте аккумулятор машины и, по возможности, откажитесь от дальних поездок ❄️", city=None, key="nvs-weather"),
    other("nvs_pub", "17 13:15", "ad", "Утепление окон, замена уплотнителей, регулировка фурнитуры. Новосибирск и Бердск, выезд мастера бесплатно. Пока не дует — уже поздно, звоните сейчас 😉", city="Новосибирск"),
    other("berdsk_vk", "18 11:00", "ad", "Масляные обогреватели и тепловентиляторы в наличии! Доставка по Бердску в день заказа. Магазин на Вокзальной, работаем с 9 до 20.", city="Бердск"),
    other("iskitim_vk", "19 09:00", "thanks", "Хочу сказать спасибо бригаде скорой помощи, которая ночью приехала к моему отцу за 15 минут. Всё сделали быстро и грамотно. Искитимская скорая, вы лучшие!", city="Искитим"),
    other("nvs_chat", "18 19:10", "chatter", "соседи, в 120-м у кого есть стремянка на вечер? лампочку на кухне поменять, высоко. верну завтра утром, с меня шоколадка", city="Новосибирск"),
    other("nvs_pub", "19 15:30", "opinion", "Мэрия отвечает на комментарии быстрее, чем УК на звонки. Иронично, но это правда: писал про двор — через два часа позвонили из района.", city="Новосибирск", author="m"),
    other("nvs_left", "18 12:30", "joke", "новосибирск утром: −27, маршрутки нет, на остановке обсуждаем с незнакомыми людьми смысл жизни. сибиряки не мёрзнут, сибиряки синеют 🥶", city="Новосибирск"),
    other("berdsk_vk", "16 10:20", "news", "В Бердске построят новую школу на 1 100 мест в микрорайоне Южный. Проект прошёл экспертизу, строительство начнётся весной и займёт два года.", city="Бердск"),
    other("berdsk_adm", "16 15:00", "announcement", "В связи с проведением работ на сетях водоснабжения 19 ноября с 9:00 до 18:00 будет прекращена подача холодной воды по ул. Вокзальной и ул. Первомайской. Подвоз питьевой воды организован к дому № 12 по ул. Вокзальной.", city="Бердск"),
    other("nvs_media", "19 20:00", "news", "Мэрия Новосибирска подвела итоги первой волны морозов\nЗа три дня с температурой ниже −25 в городе зафиксировано 14 порывов на тепловых сетях, все они устранены, самый длительный ремонт занял около 20 часов. В пик нагрузки работали 60 аварийных бригад. В Бердске и Искитиме аварии ликвидированы в течение суток. Вице-мэр попросил управляющие компании до конца недели проверить утепление подвалов и чердаков, а жителей — сообщать о холодных батареях сразу, не дожидаясь утра: через ЕДДС, в соцсетях мэрии или на платформе «Решаем вместе».", city="Новосибирск"),
    other("nvs_media", "18 14:30", "news", "Новосибирское метро с 1 января повысит стоимость проезда на 3 рубля. В мэрии объясняют решение ростом цен на электроэнергию и обслуживание подвижного состава.", city="Новосибирск"),
    other("nvs_media", "19 16:45", "meta", "Почему жалобы в соцсетях работают быстрее писем: рассказываем, как устроен Центр управления регионом и кто читает ваши комментарии в городских пабликах.", city=None),
    other("iskitim_ok", "17 20:10", "chatter", "Кто знает, в Искитиме сейчас где-нибудь продаются ёлки? Или рано ещё? Хочу живую, в прошлом году на рынке брали", city="Искитим"),
    other("nvs_left", "19 22:15", "chatter", "на площади Маркса сегодня открыли ярмарку, кто был — стоит идти? пишут, что мёд хороший привезли с Алтая", city="Новосибирск"),
    # --- Москва
    other("mow_uprava", "16 12:00", "announcement", "Уважаемые жители района Марьино! С 18 по 22 ноября на Люблинской улице (дома 151–169) будет проводиться замена бортового камня. Просим не оставлять автомобили вдоль тротуара.", city="Москва"),
    other("mow_media", "17 10:30", "news", "В Москве завершили благоустройство ещё 120 дворов в 2026 году. Жители выбирали состав работ на портале «Активный гражданин».", city="Москва"),
    other("mow_tg_news", "18 18:00", "news", "В Марьине открыли новый спортивный кластер с бассейном и залом единоборств. Запись в секции — через mos.ru, для жителей района первые занятия бесплатные.", city="Москва"),
    other("mow_chat", "17 21:15", "chatter", "соседи, кто-то заказывал пиццу в 3 подъезд? курьер стоит у двери, не может дозвониться. 🍕", city="Москва"),
    other("mow_pub", "18 10:30", "ad", "Клининг квартир и офисов в Марьино и Люблино. Генеральная уборка, мытьё окон, химчистка мебели. Скидка 15% на первый заказ!", city="Москва"),
    other("mow_forum", "18 15:55", "opinion", "Заметил, что на форуме управы отвечают быстрее, если писать спокойно и по фактам, с адресом и фото. Капс и ругань, видимо, сразу в конец очереди 😄", city="Москва", author="m"),
    other("mow_chat2", "19 12:40", "thanks", "горячую воду дали около одиннадцати, если кто ещё не заметил. спасибо, кто звонил в диспетчерскую и держал всех в курсе", city="Москва"),
    other("mow_tg_news", "20 08:20", "news", "На Братиславской ограничат движение в ночь на 22 ноября из-за ремонта коммуникаций. Объезд по Перервинскому бульвару.", city="Москва"),
    other("mow_pub", "20 17:30", "chatter", "Кто знает хорошую ветклинику рядом с Братиславской? Чтобы работала в выходные. Кот что-то не ест второй день", city="Москва"),
    # --- Санкт-Петербург
    other("spe_adm", "16 11:30", "announcement", "Администрация Фрунзенского района информирует: с 17 ноября по 15 декабря проводятся работы по ремонту внутриквартальных проездов у домов 10–24 по ул. Белы Куна. Просим соблюдать осторожность.", city="Санкт-Петербург"),
    other("spe_media", "16 14:10", "news", "В Петербурге стартовал сезон зимней уборки: на улицы выйдут более 4 тысяч единиц техники. Жалобы на нечищеные дворы можно оставлять на портале «Наш Санкт-Петербург».", city="Санкт-Петербург"),
    other("spe_pub", "17 13:50", "chatter", "Кто-нибудь знает, почему сегодня на станции «Купчино» закрыт один вестибюль? Люди с электричек в толпе идут через второй", city="Санкт-Петербург"),
    other("spe_vo", "17 18:25", "news", "На Васильевском острове откроется новая библиотека-коворкинг в здании на Среднем проспекте. Открытие запланировано на декабрь.", city="Санкт-Петербург"),
    other("spe_vo_chat", "18 20:00", "ad", "Отдам даром детскую кроватку и комод, самовывоз с 8-й линии. Состояние хорошее, просто переезжаем", city="Санкт-Петербург"),
    other("spe_pub", "19 18:40", "joke", "Купчино в ноябре: солнце видели последний раз в сентябре, лужа у парадной стала местной достопримечательностью. Скоро туристы начнут приезжать 😂", city="Санкт-Петербург"),
    other("spe_tg_news", "19 21:30", "news", "На Лиговском проспекте из-за ДТП с участием трёх машин затруднено движение в сторону центра. Пострадавших, по предварительным данным, нет.", city="Санкт-Петербург"),
    other("spe_chat", "20 10:40", "thanks", "Крышку на люк у 20-го дома поставили и ограждение убрали. Спасибо, что откликнулись. Мальчик, кстати, уже в порядке", city="Санкт-Петербург"),
    other("spe_media", "18 17:20", "news", "Петербург меняет правила зимней уборки дворов\nС декабря управляющие компании будут обязаны убирать снег во дворах не позднее чем через шесть часов после окончания снегопада, а наледь на тротуарах — обрабатывать в течение трёх часов. За нарушение сроков жилищная инспекция сможет штрафовать без предварительного предупреждения. Жителей просят фиксировать нечищеные дворы с фотографией и временем: такие сообщения принимают на портале «Наш Санкт-Петербург» и в соцсетях районных администраций. В прошлом сезоне поступило более 40 тысяч подобных жалоб.", city="Санкт-Петербург"),
    other("spe_media", "20 16:00", "opinion", "Колонка: почему жителям проще написать в паблик, чем в управляющую компанию. Ответ в соцсетях приходит за часы, а письменное обращение — за 30 дней.", city=None),
    # --- Нижегородская область
    other("niz_media", "17 09:40", "news", "Жители Дзержинска снова жалуются на химический запах в вечерние часы. В региональном минэкологии сообщили, что передвижная лаборатория выехала на замеры, результаты будут опубликованы.", city="Дзержинск"),
    other("niz_adm", "19 11:00", "announcement", "В связи с сильным снегопадом на улицах Нижнего Новгорода работают 380 единиц техники. Просим водителей по возможности отказаться от поездок на личном транспорте и не парковаться у обочин.", city="Нижний Новгород", key="niz-adm-snow"),
    other("niz_pub", "17 16:40", "ad", "Автосервис на Московском шоссе: шиномонтаж без очереди, хранение шин, развал-схождение. До конца ноября скидка 20% на шиномонтаж!", city="Нижний Новгород"),
    other("niz_chat", "19 08:50", "chatter", "кто-нибудь знает, автозаводский рынок сегодня работает? хотела за мясом съездить, а у них вроде санитарный день", city="Нижний Новгород", author="f"),
    other("arz_ok", "19 10:00", "news", "В Арзамасе к Новому году установят главную ёлку на Соборной площади. В этом году её украсят игрушками, которые сделали воспитанники детских садов.", city="Арзамас"),
    other("dzr_vk", "19 15:50", "opinion", "Писать в администрацию бесполезно, отвечают отписками. Но когда пишешь в паблик и набирается сто комментариев — сразу реагируют. Вот такая у нас обратная связь.", city="Дзержинск"),
    other("niz_tg_news", "18 22:15", "news", "В Автозаводском районе газовая служба проверяет сообщения о запахе газа в жилом доме на проспекте Ленина. По данным аварийной службы, опасности для жителей нет.", city="Нижний Новгород"),
    other("niz_pub", "19 10:20", "thanks", "Спасибо газовикам, вчера ночью нашли утечку у нас в подъезде на Ленина 15 и всё устранили. Вчера нервничали, сегодня спим спокойно", city="Нижний Новгород"),
    # --- Свердловская область
    other("sve_media", "16 12:45", "news", "В Екатеринбурге продлили ремонт трамвайных путей на улице Малышева до конца ноября. Трамваи маршрутов 2, 13 и 15 будут ходить в изменённом режиме.", city="Екатеринбург"),
    other("sve_pub", "17 14:20", "chatter", "Подскажите, где в центре Екатеринбурга можно недорого отремонтировать ботинки? Подошва отклеилась, а ходить не в чем", city="Екатеринбург"),
    other("sve_tg_news", "18 15:10", "news", "Мэрия Екатеринбурга сообщила о завершении работ на сетях в Кировском районе: горячее водоснабжение восстановлено в 34 домах.", city="Екатеринбург"),
    other("sve_chat", "20 09:30", "thanks", "подвал откачали, трубу заварили, пара больше нет. спасибо всем, кто писал и звонил в администрацию, без этого бы ещё неделю стояло", city="Екатеринбург"),
    other("sve_pub", "19 19:00", "joke", "Екатеринбург: вчера +2 и дождь, сегодня −18 и гололёд, завтра обещают снег. Уральская погода держит в тонусе 😅", city="Екатеринбург"),
    # --- federal sources, no region in the registry
    other("fed_tg", "16 10:00", "news", "Минстрой: к отопительному сезону подготовлено 99,8% жилого фонда страны. Наибольшее число аварий на сетях в ноябре традиционно приходится на Сибирь и Урал.", city=None),
    other("fed_media", "17 15:00", "meta", "Как работают центры управления регионом: от поста в соцсетях до ответа ведомства. Разбираем, куда уходит ваша жалоба, кто её читает и почему ответ приходит от имени администрации.", city=None),
    other("fed_forum", "18 11:40", "opinion", "Сравнивал, как отвечают в разных регионах. Где-то за два часа звонят и приезжают, где-то присылают отписку через неделю. Всё зависит от конкретного ведомства, а не от платформы.", city=None, author="m"),
    other("fed_forum", "19 20:30", "meta", "Подскажите по опыту: если УК не отвечает на заявку, куда лучше писать — в ГЖИ, в прокуратуру или в «Решаем вместе»? Интересует, что реально быстрее срабатывает.", city=None),
    other("fed_tg", "20 14:00", "news", "Правительство продлило программу льготного ремонта дворов на 2027 год. Регионы должны подать заявки до 1 марта.", city=None),
]
# fmt: on

# fmt: off
OTHERS += [
    other("tve_chat", "18 08:20", "chatter", "кто хозяин серебристой шкоды у 48-го? перекрыли выезд со двора, позвоните пожалуйста в домофон 12, опаздываю", city="Тверь"),
    other("rzhev_chat", "17 19:30", "chatter", "Всем привет! В субботу в ДК концерт народного ансамбля, кто пойдёт? Билеты ещё есть в кассе, говорят, недорого", city="Ржев"),
    other("tve_news", "19 11:25", "news", "В Твери полицейские задержали подозреваемого в краже кабеля с территории промзоны на Бурашевском шоссе. Ущерб оценивается в 300 тысяч рублей.", city="Тверь"),
    other("tve_ok", "20 12:05", "chatter", "Девочки, где в Твери записаться на массаж для грудничка? Посоветуйте проверенного специалиста, желательно в Заволжском районе", city="Тверь", author="f"),
    other("vvol_vk", "20 15:30", "ad", "Продаётся дом в Вышнем Волочке, 80 м², газ, центральная вода, участок 10 соток, рядом школа и магазины. Торг уместен, звоните!", city="Вышний Волочек"),
    other("pos_tve", "20 11:00", "thanks", "Выражаю благодарность администрации Заволжского района г. Твери за оперативное восстановление уличного освещения на ул. Ткача. Работы выполнены через два дня после обращения.", city="Тверь"),
    other("iva_pub", "17 07:00", "chatter", "Иваново, доброе утро! ☀️ Сегодня −5, без осадков. Хорошего всем дня и поменьше пробок на Лежневской 🚗", city="Иваново"),
    other("iva_tg_news", "19 18:00", "news", "Ивановские энергетики предупреждают о возможных кратковременных отключениях электроэнергии в области из-за ледяного дождя. Бригады переведены в режим повышенной готовности.", city=None),
    other("kin_ok", "19 12:20", "chatter", "Кто из Кинешмы едет в субботу в Иваново на машине? Возьмите попутчицу, бензин оплачу. Выезд утром, обратно вечером", city="Кинешма", author="f"),
    other("shuya_ok", "20 14:10", "news", "В Шуе прошла ярмарка народных промыслов: мастера привезли вышивку, керамику и расписные платки. Следующую ярмарку проведут перед Новым годом.", city="Шуя"),
    other("iva_adm", "18 11:30", "opinion", "Ну хоть предупредили заранее про Лежневскую, спасибо. А то обычно узнаём, когда уже намылились в душе", city="Иваново", reply_to="iva-adm-hotwater"),
    other("nvs_tg_news", "19 08:35", "news", "ДТП на Октябрьском мосту: столкнулись четыре машины, пробка тянется до площади Труда. Пострадавших нет, ГИБДД работает на месте.", city="Новосибирск"),
    other("nvs_pub", "18 17:40", "chatter", "Кто потерял собаку? Хаски, без ошейника, бегала у ТЦ на Фрунзе, глаза голубые. Забрали к себе, ищем хозяев, пишите в личку", city="Новосибирск"),
    other("nvs_mayor", "18 10:15", "thanks", "Спасибо дворникам на Титова, чистят с шести утра, видно, что стараются 👍 Не всё же ругать", city="Новосибирск", reply_to="nvs-mayor-snow"),
    other("berdsk_chat", "19 19:20", "chatter", "В Бердске в субботу будет ярмарка на площади? Кто знает, во сколько начало и будут ли там ёлки продавать?", city="Бердск"),
    other("iskitim_vk", "20 10:30", "news", "В Искитиме открыли новую детскую площадку в микрорайоне Индустриальный. Её построили по программе инициативного бюджетирования, жители сами выбирали оборудование.", city="Искитим"),
    other("nvs_gov", "17 16:00", "announcement", "Министр ЖКХ и энергетики Новосибирской области проведёт приём граждан по личным вопросам 25 ноября. Предварительная запись по телефону приёмной до 23 ноября.", city=None),
    other("nvs_left", "20 11:50", "chatter", "guys, anyone knows an english-speaking dentist in Akademgorodok? коллеге из Индии нужен, зуб болит, по-русски пока никак", city="Новосибирск"),
    other("mow_forum", "16 21:00", "chatter", "Кто-нибудь знает, когда откроют новую станцию на Большой кольцевой в нашу сторону? Давно обещали, а сроки всё переносят", city="Москва"),
    other("mow_chat", "19 20:05", "chatter", "Соседи, в субботу субботник во дворе, приходите к 11 часам, грабли и мешки дадут. После — чай в колясочной ☕", city="Москва"),
    other("mow_media", "19 09:10", "news", "С 1 декабря изменится схема движения нескольких автобусных маршрутов в Марьине и Люблине. Подробная схема опубликована на сайте Мосгортранса.", city="Москва"),
    other("spe_vo_chat", "16 12:30", "chatter", "кто-нибудь знает, на Андреевском рынке ещё продают корюшку? или уже сезон прошёл 🐟", city="Санкт-Петербург"),
    other("spe_pub", "18 15:25", "ad", "Ремонт стиральных машин и холодильников на дому. Купчино и окрестности, выезд в день обращения, гарантия на работы 6 месяцев.", city="Санкт-Петербург"),
    other("spe_adm", "19 12:00", "announcement", "Приглашаем жителей на встречу с главой администрации Фрунзенского района 26 ноября в 18:00 в актовом зале администрации. Вопросы можно направить заранее.", city="Санкт-Петербург"),
    other("spe_media", "18 09:30", "news", "Жилищная инспекция Петербурга оштрафовала 15 управляющих компаний за ненадлежащую уборку дворов и лестниц. Общая сумма штрафов — более 2 млн рублей.", city="Санкт-Петербург"),
    other("niz_media", "18 10:50", "news", "В Нижнем Новгороде в следующем году отремонтируют 25 дворов в Сормовском районе. Список адресов сформирован по заявкам жителей.", city="Нижний Новгород"),
    other("dzr_chat", "18 13:15", "chatter", "Кто в Дзержинске печёт торты на заказ? Нужен на день рождения дочке к субботе, что-нибудь с единорогами 🦄", city="Дзержинск"),
    other("arz_ok", "16 09:30", "ad", "Хлебозавод приглашает на работу водителей категории С и пекарей. Зарплата от 55 000 рублей, официальное трудоустройство, Арзамас.", city="Арзамас"),
    other("sve_media", "18 11:30", "news", "В Екатеринбурге начали общественное обсуждение дизайн-проекта набережной Исети. Голосование продлится до 10 декабря.", city="Екатеринбург"),
    other("sve_tg_news", "20 07:40", "news", "На Уралмаше ночью горел гараж, огонь потушили за 20 минут. Пострадавших нет, причины пожара выясняются.", city="Екатеринбург"),
    other("fed_tg", "18 09:00", "news", "Роспотребнадзор фиксирует начало сезонного подъёма заболеваемости гриппом и ОРВИ в 30 регионах и напоминает о прививках.", city=None),
    other("fed_forum", "17 22:30", "chatter", "Кто-нибудь пользовался приложением «Госуслуги Дом»? Удобно передавать показания счётчиков или лучше по старинке, через квитанцию?", city=None),
    other("torzhok_vk", "20 13:40", "news", "Торжокская детская школа искусств отмечает юбилей. 25 ноября в зале школы пройдёт праздничный концерт учеников и выпускников, вход свободный.", city="Торжок"),
]
# fmt: on

# Agencies publish many near-identical notices; a table and a few phrasings.
# fmt: off
_OUTAGE_FORMS: tuple[str, ...] = (
    "⚠️ Плановое отключение\n{date} с {start} до {end} в связи с {reason} будет прекращена подача {what} по адресам: {addresses}. Приносим извинения за временные неудобства.",
    "Уважаемые жители! {date} с {start} до {end} в связи с {reason} не будет {what} в домах: {addresses}. Просим заранее сделать необходимый запас.",
    "Внимание! {date}, {start}–{end}: отключение {what}. Адреса: {addresses}. Причина — {reason_nom}. Справки — по телефону диспетчерской службы.",
)
_OUTAGES: list[tuple[str, str, str | None, str, str, str, str, str, str, str]] = [
    # src, when, city, date, start, end, what (genitive), reason (instrumental), reason (nominative), addresses
    ("tve_adm", "16 10:30", "Тверь", "19 ноября", "9:00", "17:00", "электроэнергии", "заменой оборудования на трансформаторной подстанции", "замена оборудования на подстанции", "ул. Вагжанова, 5–15; ул. Новоторжская, 2–10"),
    ("tve_adm", "18 16:00", "Тверь", "21 ноября", "10:00", "15:00", "холодной воды", "ремонтом водопровода", "ремонт водопровода", "пр. Чайковского, 19–31; ул. Лидии Базановой, 1–9"),
    ("rzhev_adm", "16 14:30", "Ржев", "18 ноября", "8:00", "16:00", "электроэнергии", "плановыми работами на линии", "плановые работы на линии", "ул. Чкалова, ул. Гагарина, пер. Садовый"),
    ("iva_adm", "17 11:00", "Иваново", "20 ноября", "9:00", "18:00", "горячей воды", "ремонтом тепловой камеры", "ремонт тепловой камеры", "ул. Кавалерийская, 40–52; пр. Строителей, 11–19"),
    ("kin_vk", "17 09:00", "Кинешма", "19 ноября", "9:00", "17:00", "электроэнергии", "ремонтом воздушной линии", "ремонт воздушной линии", "ул. Вичугская, 100–140; ул. Окружная"),
    ("nvs_mayor", "16 17:00", "Новосибирск", "19 ноября", "10:00", "20:00", "горячей воды", "аварийно-восстановительными работами на теплотрассе", "работы на теплотрассе", "ул. Титова, 10–28; ул. Станиславского, 3–9"),
    ("berdsk_adm", "18 16:30", "Бердск", "21 ноября", "9:00", "13:00", "электроэнергии", "ремонтом распределительного пункта", "ремонт распределительного пункта", "ул. Ленина, 1–25; ул. Свердлова, 2–18"),
    ("mow_uprava", "17 15:30", "Москва", "20 ноября", "10:00", "16:00", "холодной воды", "заменой запорной арматуры", "замена запорной арматуры", "Люблинская ул., 165, 167; Новочеркасский б-р, 10"),
    ("spe_adm", "18 13:00", "Санкт-Петербург", "20 ноября", "9:00", "21:00", "горячей воды", "гидравлическими испытаниями", "гидравлические испытания", "ул. Будапештская, 80–98; ул. Славы, 40–52"),
    ("niz_adm", "17 10:15", "Нижний Новгород", "19 ноября", "9:00", "16:00", "газа", "плановым техническим обслуживанием газопровода", "техническое обслуживание газопровода", "ул. Веденяпина, 1–11; пр. Кирова, 20–26"),
    ("sve_tg_news", "17 12:30", "Екатеринбург", "19 ноября", "8:00", "20:00", "горячей воды", "ремонтом магистрали", "ремонт магистрали", "ул. Белинского, 30–56; ул. 8 Марта, 60–72"),
    ("nvs_tg_news", "19 13:20", "Искитим", "20 ноября", "9:00", "17:00", "холодной воды", "подключением нового участка водовода", "подключение нового участка водовода", "мкр. Южный, дома 1–15"),
]
_CLOSURES: list[tuple[str, str, str | None, str]] = [
    ("tve_gov", "19 09:30", "Тверь", "С 22 ноября в связи с реконструкцией моста будет ограничено движение на Восточном мосту через Волгу: по одной полосе в каждом направлении. Рекомендуем пользоваться Староволжским мостом."),
    ("iva_gov", "18 12:00", "Иваново", "С 21 по 23 ноября в связи с монтажом новогодней иллюминации будет закрыто движение по площади Революции с 22:00 до 6:00. Общественный транспорт пойдёт в объезд по ул. Батурина."),
    ("nvs_mayor", "19 10:00", "Новосибирск", "С 23 ноября изменится маршрут автобуса № 36: в связи с ремонтом ул. Кирова он будет следовать через ул. Восход. Остановка «Площадь Маркса» сохраняется."),
    ("mow_uprava", "19 14:00", "Москва", "С 24 ноября на Братиславской улице вводится временное ограничение парковки в связи с механизированной уборкой снега с 23:00 до 7:00."),
    ("spe_adm", "17 10:00", "Санкт-Петербург", "Из-за ремонта трамвайных путей с 21 ноября трамвай № 45 будет ходить по сокращённой схеме до станции метро «Купчино». Организован компенсационный автобус."),
    ("niz_adm", "16 16:30", "Нижний Новгород", "С 20 ноября в связи с заменой теплотрассы будет закрыт проезд по ул. Веденяпина от пр. Ленина до ул. Лескова. Объезд по ул. Дьяконова."),
]
# fmt: on


def notices() -> list[Post]:
    """Outage and closure notices from agencies, rendered from the tables above."""
    posts = []
    for i, (src, when, city, date, start, end, what, reason, reason_nom, addresses) in enumerate(
        _OUTAGES
    ):
        form = _OUTAGE_FORMS[i % len(_OUTAGE_FORMS)]
        text = form.format(
            date=date,
            start=start,
            end=end,
            what=what,
            reason=reason,
            reason_nom=reason_nom,
            addresses=addresses,
        )
        posts.append(other(src, when, "announcement", text, city=city))
    posts += [
        other(src, when, "announcement", text, city=city) for src, when, city, text in _CLOSURES
    ]
    return posts


# ---------------------------------------------------------------------------
# Copies: other communities republish a post under their own id. Ops, applied
# in order: quote (wrap in «…» after a lead-in), prefix, tags, emoji, lower,
# cut (keep ~N chars and an ellipsis), typos (N letter slips), url (append the
# original's link). A copy of a copy names the copy it was made from.
# ---------------------------------------------------------------------------

# fmt: off
COPIES: list[Post] = [
    repost("tve-pothole-b", "tve_pub", "16 11:30", ("quote", "Подписчики пишут:"), ("tags", "#Тверь #дороги")),
    repost("tve-lights-a", "tve_ok", "16 20:05", ("prefix", "Репост: ")),
    repost("torzhok-heat-a", "torzhok_chat", "16 21:50", ("prefix", "Репост из «Торжок сегодня»: "), ("typos", 1)),
    repost("rzhev-bus-a", "rzhev_vk", "16 08:40", ("tags", "#Ржев #автобус"), ("emoji", "🚌")),
    repost("tve-roofsheet", "tve_news", "17 16:10", ("quote", "Очевидцы сообщают:"), ("url",)),
    repost("tve-joke-winter", "tve_chat", "16 08:00", ("lower",)),
    repost("tve-adm-hromova", "tve_pub", "17 10:15", ("prefix", "Репост: "), ("url",)),
    repost("tve-news-40roads", "tve_ok", "16 12:20", ("cut", 150), ("url",)),
    repost("iva-hw-b", "iva_ok", "17 09:30", ("tags", "#ЖКХ #Иваново"), ("emoji", "😡")),
    repost("iva-hw-e", "iva_tg_news", "18 12:40", ("lower",), ("cut", 80)),
    repost("shuya-dogs-a", "shuya_vk", "16 17:00", ("quote", "Подписчики пишут:")),
    repost("iva-smoke", "iva_tg_news", "19 14:05", ("quote", "Жители сообщают:"), ("cut", 100)),
    repost("iva-gov-cur", "iva_pub", "17 15:10", ("quote", "ЦУР сообщает:")),
    repost("nvs-waste-b", "nvs_tg_news", "16 20:30", ("quote", "Подписчики пишут:"), ("url",), key="nvs-waste-copy"),
    repost("nvs-waste-d", "nvs_pub", "18 08:15", ("quote", "Из чата дома:"), ("typos", 1)),
    repost("berdsk-heat-a", "nvs_tg_news", "17 07:30", ("prefix", "⚡️ Бердск: "), ("tags", "#Бердск #отопление"), key="berdsk-heat-copy"),
    repost("berdsk-heat-copy", "fed_tg", "17 05:10", ("cut", 140), ("prefix", "Сибирь замерзает. ")),
    repost("iskitim-wire-a", "iskitim_vk", "18 10:05", ("quote", "Подписчики пишут:"), ("tags", "#Искитим #осторожно")),
    repost("nvs-gorsky", "nvs_tg_news", "18 08:40", ("tags", "#Новосибирск #снег")),
    repost("nvs-weather", "berdsk_vk", "17 09:00", ("tags", "#Бердск #мороз")),
    repost("mow-lift-b", "mow_tg_news", "17 20:10", ("lower",), ("typos", 2)),
    repost("spe-roof-a", "spe_vo_chat", "16 14:10", ("prefix", "репост из группы ВО: ")),
    repost("spe-manhole-a", "spe_tg_news", "17 18:20", ("quote", "Очевидцы пишут:"), ("url",)),
    repost("spe-manhole-a", "fed_tg", "17 19:00", ("prefix", "Петербург: "), ("typos", 2), ("tags", "#Петербург #люк")),
    repost("spe-kittens", "spe_vo", "19 09:20", ("prefix", "Репост. Помогите котятам! "), ("typos", 1)),
    repost("niz-gas-a", "niz_tg_news", "18 20:40", ("quote", "Жители пишут:")),
    repost("dzr-smell-a", "dzr_chat", "16 22:55", ("prefix", "Репост: "), ("url",)),
    repost("niz-sinkhole", "niz_tg_news", "19 20:15", ("prefix", "⚠️ Осторожно! "), ("typos", 1)),
    repost("sve-flood-b", "sve_tg_news", "18 10:20", ("quote", "Подписчики пишут:"), ("cut", 160)),
]
# fmt: on

#: A connector re-polls and publishes these posts again, byte for byte:
#: (key, how many lines later the repeat appears).
REDELIVERIES: list[tuple[str, int]] = [
    ("tve-pothole-pos", 7),
    ("iva-hw-a", 25),
    ("nvs-waste-pos", 3),
    ("niz-gas-a", 12),
    ("tve-news-40roads", 40),
]


def broken(breakage: str, error: str, src: str, when: str, text: str) -> Post:
    """A line a connector got wrong; ``build()`` breaks it as ``breakage`` says."""
    return Post(src, when, text, "invalid", error=error, breakage=breakage)


#: Bad input, one physical line each; ``error`` is the DLQ error kind we expect.
# fmt: off
INVALID: list[Post] = [
    broken("truncated", "invalid_json", "tve_pub", "16 12:40", "На Советской у дома 40 третий день не работает светофор, машины едут как попало, а там переход к школе. Сделайте что-нибудь!"),
    broken("array", "schema", "nvs_pub", "17 11:10", "Кто-нибудь знает, почему на Красном проспекте с утра пробка до самого моста? Авария?"),
    broken("no_text", "schema", "iva_ok", "17 17:20", "Во дворе на Лежневской опять не вывезли мусор, баки полные со вторника."),
    broken("empty_text", "schema", "spe_pub", "18 08:30", "пусто"),
    broken("time_number", "schema", "niz_pub", "18 13:45", "На Автозаводе опять перекопали Веденяпина, объезжаем через дворы. Надолго это?"),
    broken("naive_time", "schema", "mow_pub", "18 19:20", "Марьино, Люблинская 157: на детской площадке разбита горка, торчит арматура. Уберите, пока никто не поранился."),
    broken("unknown_region", "unknown_region", "tve_ok", "19 07:40", "В Твери на Вагжанова с утра нет света в трёх домах, аварийка не отвечает. Кто знает что случилось?"),
    broken("no_prefix", "schema", "sve_pub", "19 16:10", "Екатеринбург, ул. Шевченко — провал асфальта у остановки, машины объезжают по тротуару."),
    broken("bad_platform", "schema", "fed_forum", "20 08:50", "Всем привет из 2006-го! Кто помнит, как тут было весело? Наш двор тогда был лучшим в районе."),
    broken("bad_utf8", "invalid_encoding", "tve_pub", "20 13:20", "Не работает светофор на перекрёстке @@BROKEN@@ Советской и Новоторжской, пешеходы идут на удачу."),
]
# fmt: on


# ---------------------------------------------------------------------------
# Official responses: interim-then-final for three problems, one answer to a
# repost (it must reach every post of the incident), the rest single answers.
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    response_id: str
    kind: str  # interim | final
    agency: str
    mention: str  # key of the answered post
    when: str  # local time of the mention's region
    text: str
    operator: str | None = None


# fmt: off
RESPONSES: list[Answer] = [
    Answer("resp-tve-0001", "interim", "Администрация г. Твери", "tve-pothole-pos", "16 16:30",
           "Здравствуйте! Ваше обращение принято в работу. Информация о выбоине на ул. Склизкова в районе дома № 48 передана подрядной организации, обследование участка запланировано на 17 ноября. О результатах сообщим дополнительно.", "cur-tve-op07"),
    Answer("resp-tve-0002", "final", "Администрация г. Твери", "tve-pothole-pos", "18 15:10",
           "Здравствуйте! Сообщаем, что 18 ноября на ул. Склизкова в районе дома № 48 выполнен ямочный ремонт литой асфальтобетонной смесью. Участок включён в перечень объектов ремонта на 2027 год. Благодарим за неравнодушие!", "cur-tve-op07"),
    Answer("resp-tve-0003", "interim", "ГЖИ Тверской области", "torzhok-heat-pos", "17 12:00",
           "Здравствуйте! По вашему обращению в отношении управляющей организации дома № 92 по ул. Дзержинского г. Торжка назначена внеплановая проверка. Специалисты выедут на адрес 18 ноября для замеров температуры в жилых помещениях.", "cur-tve-op03"),
    Answer("resp-iva-0001", "interim", "Департамент ЖКХ Администрации г. Иванова", "iva-hw-pos", "18 11:20",
           "Здравствуйте! Причина отсутствия горячего водоснабжения в доме № 144 по ул. Куконковых — повреждение на внутриквартальной сети. Ремонтные работы ведутся, ориентировочный срок восстановления ГВС — 19 ноября. Приносим извинения за неудобства.", "cur-iva-op12"),
    Answer("resp-iva-0002", "final", "Департамент ЖКХ Администрации г. Иванова", "iva-hw-b", "19 17:00",
           "Здравствуйте! Повреждение на сети устранено, горячее водоснабжение в доме № 144 по ул. Куконковых восстановлено 19 ноября в 15:40. Управляющей организации поручено проверить работу циркуляции в подъездах.", "cur-iva-op12"),
    Answer("resp-iva-0003", "interim", "Администрация г. Шуи", "shuya-dogs-pos", "17 15:00",
           "Здравствуйте! Заявка на отлов безнадзорных животных в районе школы № 2 по ул. Свердлова передана специализированной организации. Выезд бригады запланирован на 20 ноября. Просим сообщать о случаях агрессии животных по телефону ЕДДС.", "cur-iva-op05"),
    Answer("resp-nvs-0001", "interim", "Администрация г. Бердска", "berdsk-heat-pos", "17 10:30",
           "Здравствуйте! На тепловой сети у дома № 37 по ул. Ленина произошёл порыв. Аварийная бригада работает на месте, ориентировочное время восстановления теплоснабжения — 18:00. Для жителей, нуждающихся в помощи, организован пункт обогрева в школе № 3.", "cur-nvs-op21"),
    Answer("resp-nvs-0002", "final", "Администрация г. Бердска", "berdsk-heat-a", "17 19:45",
           "Здравствуйте! Порыв устранён, теплоснабжение дома № 37 по ул. Ленина восстановлено в 18:20. Температура теплоносителя соответствует графику. Если в отдельных квартирах батареи остаются холодными, обратитесь в аварийно-диспетчерскую службу управляющей компании.", "cur-nvs-op21"),
    Answer("resp-nvs-0003", "final", "Министерство ЖКХ и энергетики Новосибирской области", "nvs-waste-copy", "18 14:00",
           "Здравствуйте! Региональному оператору указано на нарушение графика вывоза ТКО по адресу ул. Петухова, 120. Вывоз отходов выполнен 18 ноября, территория площадки очищена. Вывоз будет контролироваться ежедневно до конца месяца.", "cur-nvs-op08"),
    Answer("resp-nvs-0004", "final", "Администрация г. Искитима", "iskitim-wire-pos", "18 15:30",
           "Здравствуйте! Оборванный провод на ул. Пушкина в районе дома № 45 отключён и демонтирован аварийной бригадой сетевой организации в 13:10. Угрозы для пешеходов нет. Спасибо, что сообщили!", "cur-nvs-op08"),
    Answer("resp-spe-0001", "final", "Администрация Фрунзенского района Санкт-Петербурга", "spe-manhole-pos", "18 12:00",
           "Здравствуйте! На смотровой колодец во дворе дома 20 по ул. Белы Куна установлена новая крышка, территория обследована. Управляющей организации выдано предписание о проверке всех колодцев во дворах квартала. Желаем ребёнку скорейшего выздоровления.", "cur-spe-op02"),
    Answer("resp-niz-0001", "final", "Аварийно-диспетчерская служба газового хозяйства г. Нижнего Новгорода", "niz-gas-a", "18 23:10",
           "Здравствуйте! При повторном выезде в 22:30 в подъезде № 2 дома 15 по пр. Ленина выявлена утечка на резьбовом соединении стояка. Утечка устранена, загазованность отсутствует, газоснабжение квартир восстановлено.", "cur-niz-op04"),
    Answer("resp-sve-0001", "final", "Администрация г. Екатеринбурга", "sve-flood-b", "18 18:00",
           "Здравствуйте! Повреждённый участок трубопровода ГВС в подвале дома № 120 по ул. Малышева заменён, вода из подвала откачана. Управляющей организации поручено провести просушку и дезинфекцию подвального помещения.", "cur-sve-op01"),
    Answer("resp-mow-0001", "final", "ГБУ «Жилищник района Марьино»", "mow-lift-b", "18 16:00",
           "Здравствуйте! В лифте третьего подъезда дома 153 по Люблинской улице заменена плата управления, лифт запущен в работу 18 ноября в 14:30. Приносим извинения за доставленные неудобства.", "mow-op11"),
]
# fmt: on

# ---------------------------------------------------------------------------
# Building the files
# ---------------------------------------------------------------------------

# fmt: off
_FEMALE = ("Ольга", "Татьяна", "Елена", "Наталья", "Ирина", "Светлана", "Анна", "Мария", "Екатерина", "Юлия", "Марина", "Людмила", "Валентина", "Дарья", "Ксения", "Алина", "Галина", "Надежда", "Оксана", "Виктория")
_MALE = ("Сергей", "Андрей", "Алексей", "Дмитрий", "Владимир", "Александр", "Михаил", "Николай", "Евгений", "Игорь", "Павел", "Иван", "Артём", "Максим", "Роман", "Виктор", "Олег", "Юрий", "Константин", "Денис")
_SURNAMES = ("Смирнов", "Кузнецов", "Соколов", "Михайлов", "Новиков", "Фёдоров", "Морозов", "Волков", "Алексеев", "Лебедев", "Семёнов", "Егоров", "Павлов", "Козлов", "Степанов", "Николаев", "Орлов", "Андреев", "Макаров", "Никитин", "Захаров", "Зайцев", "Борисов", "Яковлев", "Григорьев", "Романов", "Сергеев", "Фролов", "Дмитриев", "Гусев", "Ильин", "Максимов", "Поляков", "Сорокин", "Виноградов", "Белов", "Антонов", "Тарасов", "Жуков", "Баранов", "Комаров", "Давыдов", "Беляев", "Осипов", "Матвеев", "Крылов", "Куликов", "Карпов", "Власов", "Денисов", "Тихонов", "Калинин", "Быков", "Маслов", "Лазарев", "Воронин", "Климов", "Ершов", "Горбунов", "Савельев")
_LATIN = {"Сергей": "Sergey", "Андрей": "Andrey", "Дмитрий": "Dmitry", "Ольга": "Olga", "Анна": "Anna", "Мария": "Maria", "Максим": "Maxim", "Ирина": "Irina", "Павел": "Pavel", "Юлия": "Yulia"}
_TG_DECOR = ("🌸", "🐾", "✨", "🚗", "☕")
# fmt: on


def _surname(male: str, female: bool) -> str:
    if not female:
        return male
    return male + "а" if male.endswith(("ов", "ев", "ёв", "ин")) else male


#: residents who post more than once, and the grammatical gender their texts use
PERSONAS: dict[str, str] = {"iva_lena": "f", "mow_katya": "f"}


class _People:
    """Invented residents: one identity per persona and platform, fresh ones otherwise."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.personas: dict[str, tuple[str, str, bool]] = {}
        self.ids: dict[tuple[str, str], dict[str, str]] = {}
        self.used: set[str] = set()

    def _person(self, female: bool | None = None) -> tuple[str, str, bool]:
        if female is None:
            female = self.rng.random() < 0.6
        first = self.rng.choice(_FEMALE if female else _MALE)
        return first, _surname(self.rng.choice(_SURNAMES), female), female

    def _uid(self, platform: str) -> str:
        r = self.rng
        while True:
            if platform == "vk":
                uid = f"id{r.randint(100_000, 899_999_999)}"
            elif platform == "ok":
                uid = str(r.randint(500_000_000_000, 599_999_999_999))
            elif platform == "telegram":
                uid = str(r.randint(100_000_000, 7_999_999_999))
            else:
                uid = f"pos-user-{r.randint(1_000_000, 9_999_999)}"
            if uid not in self.used:
                self.used.add(uid)
                return uid

    def _display(self, platform: str, first: str, last: str) -> tuple[str, str]:
        r = self.rng
        if platform == "telegram":
            style = r.randrange(5)
            if style == 0:
                return first, ""
            if style == 1:
                return f"{first} {last[0]}.", ""
            if style == 2 and first in _LATIN:
                return _LATIN[first], ""
            if style == 3:
                return f"{first} {r.choice(_TG_DECOR)}", ""
            return f"{first} {last}", ""
        if platform == "pos":
            return f"{first} {last[0]}.", ""
        if platform == "web":
            base = _LATIN.get(first, "sosed").lower()
            nick = f"{base}_{r.randint(7, 99)}"
            return nick, nick
        return f"{first} {last}", ""

    def author(self, platform: str, handle: str | None) -> dict[str, str]:
        """``handle``: None or "f"/"m" (a new resident, of that gender if the
        text needs it), or a persona who writes more than once."""
        if handle in (None, "f", "m"):
            first, last, _ = self._person(None if handle is None else handle == "f")
            handle = None
        elif (handle, platform) in self.ids:
            return self.ids[(handle, platform)]
        else:
            person = self.personas.get(handle) or self._person(PERSONAS[handle] == "f")
            first, last, _ = self.personas.setdefault(handle, person)
        name, nick = self._display(platform, first, last)
        uid = nick or self._uid(platform)
        ident = {"id": uid, "name": name}
        if handle is not None:
            self.ids[(handle, platform)] = ident
        return ident


def _tz(src: Src) -> timezone:
    hours = REGION_OFFSETS[src.home] if src.home else FEDERAL_OFFSET
    return timezone(timedelta(hours=hours))


def _local(when: str, tz: timezone, second: int) -> datetime:
    day, hm = when.split()
    hour, minute = hm.split(":")
    return datetime(YEAR, MONTH, int(day), int(hour), int(minute), second, tzinfo=tz)


def _typos(rng: random.Random, text: str, count: int) -> str:
    """Swap two neighbouring letters or drop one, inside longer Cyrillic words."""
    chars = list(text)
    for _ in range(count):
        spots = [
            i
            for i in range(1, len(chars) - 2)
            if all("а" <= c.lower() <= "я" for c in chars[i - 1 : i + 3])
        ]
        i = rng.choice(spots)
        if rng.random() < 0.5:
            chars[i], chars[i + 1] = chars[i + 1], chars[i]
        else:
            del chars[i]
    return "".join(chars)


def _cut(text: str, limit: int) -> str:
    head = text[:limit]
    return head[: head.rfind(" ")].rstrip(",.;:—- ") + "…"


def _apply(rng: random.Random, text: str, ops: Iterable[tuple[Any, ...]], url: str | None) -> str:
    for op, *args in ops:
        if op == "quote":
            inner = text.replace("«", "„").replace("»", "“")
            text = f"{args[0]} «{inner}»"
        elif op == "prefix":
            text = args[0] + text
        elif op == "tags":
            text = f"{text}\n\n{args[0]}"
        elif op == "emoji":
            text = f"{text} {args[0]}"
        elif op == "lower":
            text = text.lower()
        elif op == "cut":
            text = _cut(text, args[0])
        elif op == "typos":
            text = _typos(rng, text, args[0])
        elif op == "url":
            if url is None:
                raise ValueError("a url op needs an original with a url")
            text = f"{text}\n{url}"
        else:
            raise ValueError(f"unknown copy op {op!r}")
    return text


def _metrics(rng: random.Random, post: Post, src: Src) -> dict[str, int] | None:
    if src.platform in ("pos", "rss") or (src.platform == "telegram" and src.kind == "chat"):
        return None
    if post.reply_to is not None:
        return {"likes": rng.randint(0, 40)}
    boost = 3 if post.urgent else 1
    if src.platform == "telegram":
        views = rng.randint(1_500, 25_000) * boost
        return {"reposts": rng.randint(0, views // 400), "views": views}
    if src.platform == "web":
        return {"comments": rng.randint(0, 35), "views": rng.randint(60, 2_500)}
    views = rng.randint(300, 9_000) if src.platform == "ok" else rng.randint(800, 30_000)
    views *= boost
    return {
        "likes": rng.randint(views // 400, views // 40),
        "reposts": rng.randint(0, views // 500),
        "comments": rng.randint(0, views // 200),
        "views": views,
    }


def _jitter(rng: random.Random, lat: float, lon: float, spread: float) -> dict[str, float]:
    return {
        "lat": round(lat + rng.uniform(-spread, spread), 6),
        "lon": round(lon + rng.uniform(-spread, spread) * 1.8, 6),
    }


def _dumps(obj: object) -> str:
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
    # one physical line per record, whatever tool splits the lines
    if any(c in text for c in "\n\r\u2028\u2029\x85\x0b\x0c\x1c\x1d\x1e"):
        raise ValueError(f"line breaker inside a record: {text[:80]}")
    return text


def all_posts() -> list[Post]:
    return [*GROUPS, *APPEALS, *OTHERS, *notices(), *COPIES, *INVALID]


def _check(posts: list[Post]) -> dict[str, Post]:
    by_key: dict[str, Post] = {}
    for p in posts:
        if p.src not in SOURCES:
            raise ValueError(f"unknown source {p.src}")
        if p.key is not None:
            if p.key in by_key:
                raise ValueError(f"duplicate key {p.key}")
            by_key[p.key] = p
        if p.city is not None and p.city not in CITIES:
            raise ValueError(f"unknown city {p.city}")
        if p.category is not None and p.category not in CATEGORIES:
            raise ValueError(f"unknown category {p.category}")
        if p.kind == "non_appeal" and p.topic not in TOPICS:
            raise ValueError(f"unknown topic {p.topic}")
        if p.kind not in ("copy", "invalid") and not 40 <= len(p.text) <= 600:
            raise ValueError(f"text length {len(p.text)} outside 40..600: {p.text[:60]}")
    for p in posts:
        for ref in (p.reply_to, p.copy_of):
            if ref is not None and ref not in by_key:
                raise ValueError(f"unknown key {ref}")
        if p.reply_to is not None and by_key[p.reply_to].src != p.src:
            raise ValueError(f"comment {p.text[:40]} answers a post in another source")
    return by_key


def _at(p: Post) -> datetime:
    if p.at is None:
        raise ValueError("post has no time yet")
    return p.at


def _mid(p: Post) -> str:
    if p.mid is None:
        raise ValueError("post has no id yet")
    return p.mid


def _root(p: Post, by_key: dict[str, Post]) -> Post:
    while p.copy_of is not None:
        p = by_key[p.copy_of]
    return p


def build() -> dict[str, bytes]:
    """Render the sample; returns file name -> exact bytes."""
    rng = random.Random(SEED)
    posts = all_posts()
    by_key = _check(posts)
    people = _People(rng)

    for p in posts:
        p.at = _local(p.when, _tz(SOURCES[p.src]), rng.randrange(60))
    order = sorted(range(len(posts)), key=lambda i: (_at(posts[i]).astimezone(UTC), i))
    chrono = [posts[i] for i in order]

    # ids and urls, in the order the platforms would hand them out
    counters: dict[str, int] = {}
    post_no: dict[int, int] = {}
    for p in chrono:
        src = SOURCES[p.src]
        counter_key = "pos" if src.platform == "pos" else src.key
        if counter_key not in counters:
            counters[counter_key] = {
                "vk": lambda: rng.randint(12_000, 95_000),
                "ok": lambda: rng.randint(154_000_000_000, 156_000_000_000),
                "telegram": lambda: rng.randint(1_000, 40_000),
                "pos": lambda: rng.randint(41_000_000, 42_000_000),
                "rss": lambda: rng.randint(10_000, 60_000),
                "web": lambda: rng.randint(2_000, 9_000),
            }[src.platform]()
        step = {"ok": (10**5, 10**7), "pos": (40, 3_000)}.get(src.platform, (1, 35))
        counters[counter_key] += rng.randint(*step)
        n = counters[counter_key]
        post_no[id(p)] = n
        if src.platform == "vk":
            if p.reply_to is not None:
                parent = post_no[id(by_key[p.reply_to])]
                p.mid = f"vk:wall{src.sid}_{parent}?reply={n}"
                p.url = f"https://vk.com/wall{src.sid}_{parent}?reply={n}"
            else:
                p.mid = f"vk:wall{src.sid}_{n}"
                p.url = f"https://vk.com/wall{src.sid}_{n}"
        elif src.platform == "telegram":
            p.mid = f"telegram:{src.sid}/{n}"
            p.url = f"https://t.me/c/{src.sid.removeprefix('-100')}/{n}"
        elif src.platform == "ok":
            p.mid = f"ok:{src.sid}_{n}"
            p.url = f"https://ok.ru/group/{src.sid}/topic/{n}"
        elif src.platform == "pos":
            p.mid = f"pos:{n}"
        elif src.platform == "rss":
            p.mid = f"rss:{src.sid}/{n}"
            p.url = f"https://{src.host}/news/{n}"
        else:
            p.mid = f"web:{src.host}/t/{n}"
            p.url = f"https://{src.host}/t/{n}"

    anchors: dict[str, dict[str, float]] = {}
    records: list[tuple[Post, bytes]] = []
    for p in chrono:
        src = SOURCES[p.src]
        if p.kind == "copy":
            original = by_key[str(p.copy_of)]
            if _at(original) >= _at(p):
                raise ValueError(f"copy of {p.copy_of} is older than its original")
            p.text = _apply(rng, original.text, p.ops, original.url)
        root = _root(p, by_key)

        community = p.author == "src" or src.kind in ("official", "media")
        if p.kind == "non_appeal" and p.topic in ("news", "announcement", "meta"):
            community = True
        if p.reply_to is not None:
            community = False
        if (
            p.kind == "appeal"
            and src.kind == "city_public"
            and src.platform == "vk"
            and p.reply_to is None
            and p.author is None
            and rng.random() < 0.2
        ):
            community = True  # published by the admins from the suggestions box
        author: dict[str, str] | None
        if src.platform == "rss":
            author = None
        elif community:
            author = {"id": src.sid, "name": src.name}
        else:
            author = people.author(src.platform, p.author)

        geo = None
        wants_geo = (
            p.geo
            if p.geo is not None
            else (
                (src.platform == "pos" and rng.random() < 0.85)
                or (src.platform in ("vk", "ok") and not community and rng.random() < 0.06)
            )
        )
        if wants_geo and root.city is not None and p.kind != "copy":
            city = CITIES[root.city]
            if root.problem is not None:
                base = anchors.setdefault(root.problem, _jitter(rng, city.lat, city.lon, 0.02))
                geo = _jitter(rng, base["lat"], base["lon"], 0.0008)
            else:
                geo = _jitter(rng, city.lat, city.lon, 0.03)

        record: dict[str, Any] = {
            "id": p.mid,
            "platform": src.platform,
            "source": {"id": src.sid, "name": src.name, "kind": src.kind},
        }
        if author is not None:
            record["author"] = author
        record["text"] = p.text
        record["created_at"] = _at(p).isoformat()
        if p.url is not None:
            record["url"] = p.url
        if p.reply_to is not None:
            record["reply_to"] = by_key[p.reply_to].mid
        if src.region_hint is not None:
            record["region_hint"] = src.region_hint
        if geo is not None:
            record["geo"] = geo
        metrics = _metrics(rng, p, src)
        if metrics is not None:
            record["metrics"] = metrics
        records.append((p, _render(p, record)))

    lines: list[tuple[Post, bytes, str]] = [(p, line, p.kind) for p, line in records]
    for key, later in REDELIVERIES:
        first = next(i for i, (p, _, _) in enumerate(lines) if p.key == key)
        lines.insert(first + later + 1, (lines[first][0], lines[first][1], "redelivery"))

    label_lines = []
    for n, (p, _, kind) in enumerate(lines, start=1):
        root = _root(p, by_key)
        region = None
        if root.city is not None:
            region = CITIES[root.city].region
        elif root.kind != "invalid":
            region = SOURCES[root.src].home
        label = {
            "line": n,
            "id": _label_id(p),
            "kind": kind,
            "copy_of": (
                p.mid
                if kind == "redelivery"
                else by_key[p.copy_of].mid
                if p.copy_of is not None
                else None
            ),
            "problem": root.problem,
            "category": root.category,
            "region": region if kind != "invalid" else None,
            "municipality": root.city if kind != "invalid" else None,
            "urgent": root.urgent,
            "topic": root.topic,
            "error": p.error,
        }
        label_lines.append(_dumps(label))

    response_lines = []
    for a in RESPONSES:
        mention = by_key[a.mention]
        region = CITIES[str(_root(mention, by_key).city)].region
        at = _local(a.when, timezone(timedelta(hours=REGION_OFFSETS[region])), 0)
        if at <= _at(mention):
            raise ValueError(f"{a.response_id} answers before the post was written")
        response: dict[str, Any] = {
            "response_id": a.response_id,
            "kind": a.kind,
            "agency": a.agency,
            "text": a.text,
            "responded_at": at.isoformat(),
            "mention_id": mention.mid,
            "region": region,
        }
        if a.operator is not None:
            response["operator"] = a.operator
        response_lines.append(_dumps(response))

    return {
        "mentions.jsonl": b"".join(line + b"\n" for _, line, _ in lines),
        "labels.jsonl": "".join(line + "\n" for line in label_lines).encode(),
        "responses.jsonl": "".join(line + "\n" for line in response_lines).encode(),
    }


def _label_id(p: Post) -> str | None:
    if p.breakage == "no_prefix":
        return _mid(p).split(":", 1)[1]
    if p.breakage == "bad_platform":
        return "myspace:blog-4471902_" + _mid(p).rsplit("/", 1)[1]
    return p.mid


def _render(p: Post, record: dict[str, Any]) -> bytes:
    """The line as published; invalid posts are broken the way ``breakage`` says."""
    b = p.breakage
    if b is None:
        return _dumps(record).encode()
    if b == "truncated":
        text = _dumps(record)
        return text[: len(text) * 55 // 100].encode()
    if b == "array":
        return _dumps([record]).encode()
    if b == "no_text":
        del record["text"]
    elif b == "empty_text":
        record["text"] = ""
    elif b == "time_number":
        record["created_at"] = int(_at(p).timestamp())
    elif b == "naive_time":
        record["created_at"] = _at(p).replace(tzinfo=None).isoformat()
    elif b == "unknown_region":
        record["region_hint"] = "RU-XXX"
    elif b == "no_prefix":
        record["id"] = _label_id(p)
    elif b == "bad_platform":
        record["platform"] = "myspace"
        record["id"] = _label_id(p)
        record["source"] = {"id": "myspace-4471902", "name": "Наш двор 2006", "kind": "city_public"}
    elif b == "bad_utf8":
        return _dumps(record).encode().replace(b"@@BROKEN@@", b"\xff\xfe")
    else:
        raise ValueError(f"unknown breakage {b}")
    return _dumps(record).encode()


def main() -> None:
    SAMPLE_DIR.mkdir(parents=True, exist_ok=True)
    for name, data in build().items():
        (SAMPLE_DIR / name).write_bytes(data)
        lines = data.count(b"\n")
        print(f"{SAMPLE_DIR / name}: {lines} lines")


if __name__ == "__main__":
    main()

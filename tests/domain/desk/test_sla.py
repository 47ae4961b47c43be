"""Working-time arithmetic on a region's calendar."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from incidents.config.settings import SlaSettings
from incidents.domain.desk.sla import SlaPolicy, WorkCalendar

MSK = timezone(timedelta(hours=3))
VLA = timezone(timedelta(hours=10))


def cal(tz: timezone = MSK, holidays: tuple[str, ...] = ()) -> WorkCalendar:
    return WorkCalendar.from_settings(SlaSettings(holidays=list(holidays)), tz)


def test_working_hours_skip_nights_and_weekends() -> None:
    friday_17 = datetime(2026, 11, 20, 17, 0, tzinfo=MSK)
    # 1 hour left on Friday, then Monday 09:00 + 8 h.
    assert cal().add_working_hours(friday_17, 9) == datetime(2026, 11, 23, 17, 0, tzinfo=MSK)


def test_holidays_are_not_working_days() -> None:
    monday = datetime(2026, 11, 23, 9, 0, tzinfo=MSK)
    c = cal(holidays=("2026-11-23",))
    assert c.add_working_hours(monday, 1) == datetime(2026, 11, 24, 10, 0, tzinfo=MSK)


def test_a_post_at_night_starts_counting_next_morning_in_the_regions_own_time() -> None:
    # 23:00 UTC is 09:00 next day in Vladivostok: counting starts at once there.
    at = datetime(2026, 11, 16, 23, 0, tzinfo=UTC)
    assert cal(VLA).add_working_hours(at, 2) == datetime(2026, 11, 17, 11, 0, tzinfo=VLA)
    assert cal(MSK).add_working_hours(at, 2) == datetime(2026, 11, 17, 11, 0, tzinfo=MSK)


def test_working_seconds_between_is_the_inverse() -> None:
    c = cal()
    start = datetime(2026, 11, 19, 15, 30, tzinfo=MSK)
    end = c.add_working_hours(start, 13.5)
    assert c.working_seconds(start, end) == 13.5 * 3600
    assert c.working_seconds(end, start) == 0.0


def test_policy_defaults_follow_published_rules() -> None:
    p = SlaPolicy(SlaSettings())
    c = cal()
    opened = datetime(2026, 11, 20, 17, 0, tzinfo=MSK)  # Friday evening
    assert p.first_reaction_due(c, opened, "critical") == opened + timedelta(hours=4)  # wall clock
    assert p.first_reaction_due(c, opened, "normal") == datetime(2026, 11, 23, 17, 0, tzinfo=MSK)
    interim = datetime(2026, 11, 23, 9, 0, tzinfo=MSK)
    # seven full working days: Mon 23 Nov 09:00 → end of Tue 1 Dec
    assert p.final_answer_due(c, interim) == datetime(2026, 12, 1, 18, 0, tzinfo=MSK)

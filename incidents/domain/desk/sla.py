"""SLA clocks in working time on a region's calendar.

Published regional rules count deadlines in working hours ("first reaction
within 9 working hours") on the region's own clock: Ivanovo and Vladivostok
start their day seven hours apart. A calendar here is the region's fixed UTC
offset (Russia has had no DST since 2014) with working hours, weekends and a
holiday list from config. Everything takes and returns aware datetimes; the
functions are pure so that replaying history reproduces the same deadlines.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo

from incidents.domain.policy import SlaSettings


@dataclass(frozen=True)
class WorkCalendar:
    tz: tzinfo
    start: time
    end: time
    weekend: frozenset[int]
    holidays: frozenset[date]

    @classmethod
    def from_settings(cls, s: SlaSettings, tz: tzinfo) -> WorkCalendar:
        return cls(
            tz=tz,
            start=time.fromisoformat(s.workday_start),
            end=time.fromisoformat(s.workday_end),
            weekend=frozenset(s.weekend),
            holidays=frozenset(date.fromisoformat(d) for d in s.holidays),
        )

    def is_workday(self, d: date) -> bool:
        return d.weekday() not in self.weekend and d not in self.holidays

    def _day_bounds(self, d: date) -> tuple[datetime, datetime]:
        return (
            datetime.combine(d, self.start, tzinfo=self.tz),
            datetime.combine(d, self.end, tzinfo=self.tz),
        )

    @property
    def hours_per_day(self) -> float:
        return (
            datetime.combine(date.min, self.end) - datetime.combine(date.min, self.start)
        ).total_seconds() / 3600

    def add_working_hours(self, at: datetime, hours: float) -> datetime:
        """The moment when `hours` of working time have passed since `at`."""
        remaining = timedelta(hours=hours)
        local = at.astimezone(self.tz)
        day = local.date()
        for _ in range(3660):  # ten years of days: a calendar with no workdays is a config bug
            if self.is_workday(day):
                lo, hi = self._day_bounds(day)
                begin = max(lo, local)
                if begin < hi:
                    available = hi - begin
                    if remaining <= available:
                        return begin + remaining
                    remaining -= available
            day += timedelta(days=1)
            local = datetime.combine(day, time.min, tzinfo=self.tz)
        raise ValueError("the SLA calendar has no working days")

    def add_working_days(self, at: datetime, days: float) -> datetime:
        return self.add_working_hours(at, days * self.hours_per_day)

    def working_seconds(self, a: datetime, b: datetime) -> float:
        """Working time between two moments (0 when b <= a)."""
        if b <= a:
            return 0.0
        a_local, b_local = a.astimezone(self.tz), b.astimezone(self.tz)
        total = 0.0
        day = a_local.date()
        while day <= b_local.date():
            if self.is_workday(day):
                lo, hi = self._day_bounds(day)
                begin, finish = max(lo, a_local), min(hi, b_local)
                if finish > begin:
                    total += (finish - begin).total_seconds()
            day += timedelta(days=1)
        return total


@dataclass(frozen=True)
class SlaPolicy:
    """Targets per priority, from settings; defaults follow published regional rules."""

    settings: SlaSettings

    def first_reaction_due(self, cal: WorkCalendar, opened: datetime, priority: str) -> datetime:
        hours = self.settings.first_reaction_hours.get(priority, 9.0)
        if self.settings.first_reaction_working_time.get(priority, True):
            return cal.add_working_hours(opened, hours)
        return opened + timedelta(hours=hours)

    def final_answer_due(self, cal: WorkCalendar, interim_or_opened: datetime) -> datetime:
        return cal.add_working_days(interim_or_opened, self.settings.final_answer_working_days)

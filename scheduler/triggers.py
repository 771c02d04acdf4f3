"""An APScheduler trigger that fires at the start of every period of a Schedule."""

from __future__ import annotations

from datetime import datetime

from apscheduler.triggers.base import BaseTrigger

from scheduler.periods import Schedule


class PeriodTrigger(BaseTrigger):
    """Fire at ``anchor + k * interval`` for every k.

    APScheduler's IntervalTrigger counts from the previous fire time, so one
    immediate run at start would shift every later run off the period
    boundaries. This trigger always returns a boundary, so all workers fire
    together and each fire falls in a period of its own.
    """

    def __init__(self, schedule: Schedule) -> None:
        self.schedule = schedule

    def get_next_fire_time(self, previous_fire_time: datetime | None,
                           now: datetime) -> datetime:
        if previous_fire_time is not None:
            return self.schedule.period_start(previous_fire_time) + self.schedule.interval
        start = self.schedule.period_start(now)
        return start if start == now else start + self.schedule.interval

    def __str__(self) -> str:
        return f"every {self.schedule.interval} from {self.schedule.anchor.isoformat()}"

    def __repr__(self) -> str:
        return f"<PeriodTrigger ({self})>"

"""Azure ML v1's ``Schedule`` and ``ScheduleRecurrence``: no scheduling service here, so each says
how to schedule a published pipeline with cron or a CI job instead (docs/publishing.md)."""

from __future__ import annotations

from typing import Any, NoReturn

from steprun_widgets.errors import V1NotSupportedError

#: What a scheduler runs: the command line that submits a published pipeline or an endpoint.
CRON_RECIPE = (
    "schedule the command line instead, e.g. this crontab line (crontab -e) runs it every day at 06:00:\n"
    "    0 6 * * * steprun-widgets pipeline submit NAME --experiment EXPERIMENT --param KEY=VALUE "
    "--tracking-uri URL\n"
    "(or --root DIR for an embedded server; credentials from MLFLOW_TRACKING_TOKEN or "
    "MLFLOW_TRACKING_USERNAME/PASSWORD), or the same command in a scheduled CI job "
    "(GitHub Actions `on: schedule: - cron: '0 6 * * *'`). See docs/publishing.md#scheduling")


def _refuse(what: str) -> NoReturn:
    raise V1NotSupportedError(
        f"Azure ML v1's {what} is not supported here: the tracking server has no scheduler; "
        f"{CRON_RECIPE}", v1_name=what)


class ScheduleRecurrence:
    """Refused with the cron recipe: there is no scheduler to give a recurrence to."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        _refuse("ScheduleRecurrence")


class Schedule:
    """Refused with the cron recipe: ``Schedule.create`` and the other v1 calls raise
    V1NotSupportedError saying how to run ``steprun-widgets pipeline submit`` from cron or CI."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        _refuse("Schedule")

    @staticmethod
    def create(*args: Any, **kwargs: Any) -> NoReturn:
        _refuse("Schedule.create")

    @staticmethod
    def create_for_pipeline_endpoint(*args: Any, **kwargs: Any) -> NoReturn:
        _refuse("Schedule.create_for_pipeline_endpoint")

    @staticmethod
    def get(*args: Any, **kwargs: Any) -> NoReturn:
        _refuse("Schedule.get")

    @staticmethod
    def list(*args: Any, **kwargs: Any) -> NoReturn:
        _refuse("Schedule.list")

    @staticmethod
    def get_schedules_for_pipeline_id(*args: Any, **kwargs: Any) -> NoReturn:
        _refuse("Schedule.get_schedules_for_pipeline_id")

    @staticmethod
    def get_schedules_for_pipeline_endpoint_id(*args: Any, **kwargs: Any) -> NoReturn:
        _refuse("Schedule.get_schedules_for_pipeline_endpoint_id")

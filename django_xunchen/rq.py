"""RQ workers for background sending that take a dead worker's scheduler over quickly.

RQ runs its scheduler, which starts deferred tasks (our retries and the tick), in a child
of one worker. When that worker's machine or container dies, the scheduler's lock
expires after about a minute, and another worker takes the scheduler over only at its
next maintenance: ten minutes later by default (and an idle worker looks only after its
wait for a job, up to seven minutes), during which no tick runs. These workers do their
maintenance every :data:`MAINTENANCE_SECONDS` instead, idle or not::

    manage.py rqworker default sms-codes --with-scheduler \\
        --job-class django_tasks_rq.backend.Job \\
        --worker-class django_xunchen.rq.Worker

Needs ``rq`` (installed with ``django-tasks-rq``).
"""

from __future__ import annotations

from typing import Any

from rq.worker import SimpleWorker as _SimpleWorker
from rq.worker import Worker as _Worker

#: Seconds between two maintenances of a worker (RQ's default is 600).
MAINTENANCE_SECONDS = 30


class PromptMaintenance:
    """Maintenance every :data:`MAINTENANCE_SECONDS`; an idle worker waits for a job no
    longer than that between two."""

    def __init__(self, *args: Any, maintenance_interval: int = MAINTENANCE_SECONDS, **kwargs: Any):
        super().__init__(*args, maintenance_interval=maintenance_interval, **kwargs)  # type: ignore[call-arg]

    @property
    def dequeue_timeout(self) -> int:
        return max(1, min(super().dequeue_timeout, self.maintenance_interval))  # type: ignore[misc]


class Worker(PromptMaintenance, _Worker):
    """RQ's forking worker, with prompt maintenance."""


class SimpleWorker(PromptMaintenance, _SimpleWorker):
    """RQ's worker that runs jobs in its own process, with prompt maintenance."""

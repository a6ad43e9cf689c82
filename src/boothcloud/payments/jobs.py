"""The periodic payment jobs inside `serve` (interval in settings; 0 turns them off):
reconciliation, and refunds (the paid-but-not-printed guarantee, resending refunds whose
request died)."""

from __future__ import annotations

from datetime import datetime, timedelta

from boothcloud.deps import Services
from boothcloud.jobs import Job
from boothcloud.payments.reconcile import reconcile
from boothcloud.payments.schemas import ReconcileReport
from boothcloud.payments.xendit import XenditClient
from boothcloud.refunds import guarantee
from boothcloud.settings import Settings


async def run_reconcile(services: Services) -> ReconcileReport:
    settings = services.settings
    return await reconcile(services.db, settings, XenditClient.from_settings(settings))


async def run_refunds(services: Services) -> guarantee.GuaranteeReport:
    settings = services.settings
    return await guarantee.run(services.db, settings, XenditClient.from_settings(settings))


def jobs(settings: Settings) -> list[Job]:
    if settings.reconcile_interval_seconds <= 0:
        return []
    interval = timedelta(seconds=settings.reconcile_interval_seconds)

    def next_run(now: datetime) -> datetime:
        return now + interval

    return [
        Job(name="payments.reconcile", next_run=next_run, run=run_reconcile),
        Job(name="payments.refunds", next_run=next_run, run=run_refunds),
    ]

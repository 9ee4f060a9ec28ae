"""Run orchestration: the queue and its local worker pool, run states, live progress fan-out."""

from app.data.catalog import DatasetCatalog, DatasetEntry
from app.jobs.errors import RunStateError
from app.jobs.progress import ProgressHub
from app.jobs.queue import JobQueue, LocalProcessPool, RunJob
from app.jobs.runner import TERMINAL, TRANSITIONS, JobRunner, sources_of

__all__ = [
    "TERMINAL",
    "TRANSITIONS",
    "DatasetCatalog",
    "DatasetEntry",
    "JobQueue",
    "JobRunner",
    "LocalProcessPool",
    "ProgressHub",
    "RunJob",
    "RunStateError",
    "sources_of",
]

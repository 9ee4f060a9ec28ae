"""A worker's trial runners, one per sweep base it has trials of, kept between trial jobs.

Trials of one study share their base run (code, data, config): the worker keeps that base's
TrialRunner, with its fork server and its shared indicators (each distinct indicator setting
computed once for every trial of the base that this worker runs), for the next trial of the
same study, and closes the least recently used one beyond MAX_BASES.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable
from typing import Final

from app.runs import PreparedRun
from app.runs.trials import TrialRunner

logger = logging.getLogger(__name__)

MAX_BASES: Final = 2
"""Trial runners a worker keeps at once (two users' sweeps taking turns stay warm)."""


class TrialBases:
    """The trial runners of one worker process, by base key (TrialJob.base_key)."""

    def __init__(self, max_bases: int = MAX_BASES) -> None:
        self._runners: OrderedDict[str, TrialRunner] = OrderedDict()
        self._max_bases = max_bases

    def runner_for(self, key: str, prepare: Callable[[], PreparedRun]) -> TrialRunner:
        """The runner of base `key`, made from `prepare()` the first time (its errors
        propagate: nothing is kept)."""
        found = self._runners.pop(key, None)
        if found is None:
            found = TrialRunner(prepare(), workers=1)
            logger.info("trial base prepared base=%s", key[:12])
        self._runners[key] = found
        while len(self._runners) > self._max_bases:
            _, oldest = self._runners.popitem(last=False)
            oldest.close()
        return found

    def close(self) -> None:
        """Close every runner (their fork servers stop)."""
        while self._runners:
            _, runner = self._runners.popitem()
            runner.close()

"""The demo's task plan, a pure function of ``--seed`` and ``--rate``.

Everything a seed can fix is drawn here, up front and in one order, before any task runs:
which scenario each task plays, its caller, client, stream shape, fault, cached system
prompt, when it arrives, which earlier task's container it starts in, and the seed of its
own dice. Nothing here depends on how fast anything ran, so two runs with the same seed,
rate and duration start the same tasks, and (see ``--help``) what those tasks do is the
same wherever timing does not decide.

What a seed cannot fix is timing: latencies, the order in which concurrent tasks finish,
whether a reused container has expired by the time its task starts (``--container-ttl``),
whether two tasks running at once both write the prompt cache, and anything an emulator
given by ``--emulator-url`` decides with its own seed.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .workload import Job, plan_jobs

if TYPE_CHECKING:
    from ..emulator import Scenario

REUSE_WINDOW = 32
"""A reusing task starts in the container of the newest or of the oldest of this many
earlier programmatic tasks: the newest is likely alive, the oldest often expired (as when a
user comes back after a pause)."""


@dataclass(frozen=True)
class Planned:
    """One task of the plan.

    Attributes:
        index: its place in the plan, from 0.
        at: when it arrives, in seconds after the start.
        job: what it plays (``job.container`` is filled in when it starts).
        reuse_of: the index of the earlier task whose container it starts in, if any; the
            task waits for that one to end first.
        seed: the seed of its own dice (tool times).
    """

    index: int
    at: float
    job: Job
    reuse_of: int | None
    seed: int


def schedule(
    scenarios: Sequence[Scenario], seed: int, rate: float
) -> Iterator[Planned]:
    """The endless task plan of ``seed`` at ``rate`` tasks per second (Poisson arrivals).

    Each task draws the same numbers in the same order whatever the run does, so the
    first ``n`` tasks of two plans with the same seed and rate are equal.
    """
    rng = random.Random(seed)
    programmatic: deque[int] = deque(maxlen=REUSE_WINDOW)
    at = 0.0
    index = 0
    choices = list(scenarios)
    while True:
        plan = plan_jobs(choices, rng, 1)[0]
        newest = rng.random() < 0.5
        job_seed = rng.randrange(2**32)
        gap = rng.expovariate(rate)
        reuse_of = None
        if plan["reuse"] and programmatic:
            reuse_of = programmatic[-1] if newest else programmatic[0]
        job = Job(
            scenario=plan["scenario"],
            programmatic=plan["programmatic"],
            use_async=plan["use_async"],
            stream=plan["stream"],
            fault=plan["fault"],
            cached_system=plan["cached_system"],
            # About half the tasks think; derived from the draws above, so adding it
            # left every seed's plan as it was.
            thinking=plan["cached_system"] != plan["use_async"],
        )
        yield Planned(index=index, at=at, job=job, reuse_of=reuse_of, seed=job_seed)
        if plan["programmatic"]:
            programmatic.append(index)
        index += 1
        at += gap

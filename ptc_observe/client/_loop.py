"""The tool loop, sans IO: what to send next, when to retry, when to start over.

:class:`RunState` holds the conversation of one ``run()`` and decides, from each
response, whether the run is done, needs tool results, or continues a paused turn. It
writes the messages the resume rules require (wire reference §2.7):

- the assistant content goes back as received (``caller`` included);
- the answer to a ``tool_use`` response is one user message made *only* of
  ``tool_result`` blocks, one for every ``tool_use`` of that response, string content;
- every request of the run carries the same ``tools`` array and, once a container is
  known, its id.

:func:`drive` is the whole loop as a generator of actions (:class:`Send`,
:class:`Sleep`, :class:`Execute`); the sync and async clients only perform them, so
both behave the same by construction. :func:`retrying` is the retry part alone, for
single requests.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..models import ContainerInfo, Message, ToolCall
from ._results import RunResult, RunSummary, ToolExecution
from .errors import (
    APIConnectionError,
    APIStatusError,
    IncompleteStreamError,
    NotFoundError,
    PTCError,
    RunLimitExceeded,
)

__all__ = [
    "Action",
    "Continue",
    "Done",
    "ExecuteTools",
    "Execute",
    "RetryPolicy",
    "RunState",
    "Send",
    "Sleep",
    "drive",
    "is_container_error",
    "retrying",
]


@dataclass(frozen=True)
class RetryPolicy:
    """When and how long to wait before sending a failed request again.

    Retried: rate limits (429), overloads (529), server errors (5xx, 408, 409), errors
    of those types inside a stream, dropped connections and streams cut short. An
    ``x-should-retry`` header overrides the status rule.

    Args:
        max_retries: Retries per request (so ``max_retries + 1`` attempts).
        initial_delay: Backoff of the first retry, seconds; doubles per retry.
        max_delay: Cap of the exponential backoff, seconds.
        max_retry_after: The longest ``retry-after`` honoured; a longer wait is not
            attempted and the error is raised (it carries ``retry_after``).
        jitter: The backoff is multiplied by a factor drawn from this range.
    """

    max_retries: int = 2
    initial_delay: float = 0.5
    max_delay: float = 8.0
    max_retry_after: float = 60.0
    jitter: tuple[float, float] = (0.75, 1.0)

    def __post_init__(self) -> None:
        if self.max_retries < 0:
            raise ValueError("max_retries must be >= 0")
        low, high = self.jitter
        if not 0 <= low <= high:
            raise ValueError("jitter must be a range (low, high) with 0 <= low <= high")

    def delay(
        self, retry: int, error: BaseException, rng: random.Random
    ) -> float | None:
        """Seconds to wait before retry number ``retry`` (0-based), or ``None``.

        Args:
            retry: How many retries of this request happened already.
            error: What the last attempt raised.
            rng: Source of the jitter (inject a seeded one in tests).

        Returns:
            ``None`` when the error is not retryable, the retries are used up, or the
            server asked for a longer wait than ``max_retry_after``.
        """
        if retry >= self.max_retries or not _retryable(error):
            return None
        retry_after = getattr(error, "retry_after", None)
        if retry_after is not None and retry_after > 0:
            # The server said when; waiting less only earns another 429.
            return retry_after if retry_after <= self.max_retry_after else None
        backoff = min(self.initial_delay * 2.0**retry, self.max_delay)
        low, high = self.jitter
        return backoff * (low + (high - low) * rng.random())


def _retryable(error: BaseException) -> bool:
    if isinstance(error, APIStatusError | APIConnectionError):
        return error.retryable
    return isinstance(error, IncompleteStreamError)


def is_container_error(error: BaseException, container_id: str | None) -> bool:
    """True when a request naming a container failed because the container is gone.

    The API does not name this error (wire reference §5.2): an expired container
    answers 400 ``invalid_request_error`` and an unknown one 404, each with a message
    about the container; restoring an old container has also been seen to fail with an
    untyped 500 ``api_error``. Only requests that carried a container id qualify, and
    :func:`drive` asks only once the retries are used up, so a 500 here is persistent.
    """
    if container_id is None or not isinstance(error, APIStatusError):
        return False
    if error.in_stream:
        return False
    if error.status_code == 500 and error.type == "api_error":
        return True
    return (
        error.status_code == 400 or isinstance(error, NotFoundError)
    ) and "container" in error.message.lower()


@dataclass(frozen=True)
class Done:
    """The run is over: the model finished (or stopped for another reason)."""


@dataclass(frozen=True)
class Continue:
    """Send again without new input (``pause_turn``)."""


@dataclass(frozen=True)
class ExecuteTools:
    """Run these calls, then :meth:`RunState.add_results`."""

    calls: list[ToolCall]

    @property
    def programmatic(self) -> bool:
        """True when code in a container made (some of) the calls."""
        return any(c.is_programmatic for c in self.calls)


Step = Done | Continue | ExecuteTools


def echo_content(message: Message) -> list[dict[str, Any]]:
    """The content of a response as it goes back in the next request.

    Blocks are sent as received. ``None`` fields are left out: they stand for keys the
    response did not have (an absent ``caller`` must not come back as ``null``).
    """
    return [b.model_dump(mode="json", exclude_none=True) for b in message.content]


class RunState:
    """The conversation and counters of one run.

    Args:
        messages: The starting messages (normalized).
        tools: The ``tools`` array every request of the run sends.
        container_id: A container to start in, or ``None`` for a fresh one.
        max_rounds: Most responses the run may use.
        max_container_restarts: Most restarts in a fresh container.
    """

    def __init__(
        self,
        messages: Sequence[Mapping[str, Any]],
        tools: Sequence[Mapping[str, Any]],
        *,
        container_id: str | None,
        max_rounds: int,
        max_container_restarts: int,
    ) -> None:
        if max_rounds < 1:
            raise ValueError("max_rounds must be >= 1")
        self._initial = [dict(m) for m in messages]
        self.messages: list[dict[str, Any]] = list(self._initial)
        self.tools = [dict(t) for t in tools]
        self.container_id = container_id
        self.container: ContainerInfo | None = None
        self.max_rounds = max_rounds
        self.max_container_restarts = max_container_restarts
        self.summary = RunSummary()
        self.executions: list[ToolExecution] = []
        self.last: Message | None = None
        self._note_container(container_id)

    def _note_container(self, container_id: str | None) -> None:
        if container_id and container_id not in self.summary.containers:
            self.summary.containers.append(container_id)

    @property
    def rounds_left(self) -> bool:
        """True while the run may send another request."""
        return self.summary.rounds < self.max_rounds

    def on_response(self, message: Message) -> Step:
        """Take a response; say what comes next."""
        self.summary.rounds += 1
        self.summary.add_usage(message)
        self.summary.stop_reason = message.stop_reason
        self.last = message
        if message.container is not None:
            self.container = message.container
            self.container_id = message.container.id
            self._note_container(message.container.id)
        self.messages.append({"role": "assistant", "content": echo_content(message)})
        if message.stop_reason == "pause_turn":
            self.summary.pause_turns += 1
            return Continue()
        calls = message.tool_calls
        if message.stop_reason == "tool_use" and calls:
            return ExecuteTools(calls)
        return Done()

    def add_results(self, executions: Sequence[ToolExecution]) -> None:
        """Answer the last response's calls: one user message of tool results only."""
        for execution in executions:
            self.summary.add_execution(execution)
        self.executions.extend(executions)
        self.messages.append(
            {"role": "user", "content": [e.to_block() for e in executions]}
        )

    def restart(self) -> bool:
        """Start the turn again without a container (the old one is gone).

        Returns:
            False when the restarts are used up.
        """
        if self.summary.container_restarts >= self.max_container_restarts:
            return False
        self.summary.container_restarts += 1
        self.messages = list(self._initial)
        self.container_id = None
        self.container = None
        return True

    def result(self, duration: float) -> RunResult:
        """The run's result so far."""
        assert self.last is not None, "no response yet"
        self.summary.duration = duration
        return RunResult(
            message=self.last,
            messages=list(self.messages),
            summary=self.summary,
            container=self.container,
            executions=list(self.executions),
        )


# --- the loop as a generator of actions ---


@dataclass(frozen=True)
class Send:
    """Send ``body``; answer with the response (or the :class:`PTCError` raised)."""

    body: dict[str, Any]
    retries: int
    """Attempts before this one (the ``x-stainless-retry-count`` header)."""


@dataclass(frozen=True)
class Sleep:
    """Wait ``seconds`` before the next attempt; answer with ``None``."""

    seconds: float
    error: PTCError
    """What the failed attempt raised."""


@dataclass(frozen=True)
class Execute:
    """Run these tool calls; answer with their :class:`ToolExecution` list."""

    calls: list[ToolCall]


Action = Send | Sleep | Execute


def retrying(
    body: dict[str, Any],
    policy: RetryPolicy,
    rng: random.Random,
    summary: RunSummary | None = None,
) -> Generator[Send | Sleep, Any, Any]:
    """Send ``body`` until it succeeds or the policy gives up.

    Yields:
        :class:`Send` (answer: the outcome, or the :class:`PTCError` the attempt
        raised) and :class:`Sleep` between attempts.

    Returns:
        The outcome of the successful attempt.

    Raises:
        PTCError: The last error, when it is not retryable or retries ran out.
    """
    retries = 0
    while True:
        outcome = yield Send(body, retries)
        if not isinstance(outcome, PTCError):
            return outcome
        delay = policy.delay(retries, outcome, rng)
        if delay is None:
            raise outcome
        retries += 1
        if summary is not None:
            summary.retries += 1
        yield Sleep(delay, outcome)


def drive(
    state: RunState,
    make_body: Callable[[RunState], dict[str, Any]],
    policy: RetryPolicy,
    rng: random.Random,
    clock: Callable[[], float] = time.perf_counter,
) -> Generator[Action, Any, RunResult]:
    """The tool loop: send, execute tools, answer, until the model is done.

    Args:
        state: The run's conversation and counters.
        make_body: Builds the request body from the state.
        policy: Retries of each request.
        rng: Jitter source of the retries.
        clock: For the run's duration.

    Returns:
        The final :class:`RunResult`.

    Raises:
        RunLimitExceeded: The rounds ran out (the partial result is attached).
        PTCError: A failure retries and container restarts did not cure.
    """
    started = clock()
    while True:
        if not state.rounds_left:
            raise RunLimitExceeded(
                f"no final answer after {state.max_rounds} rounds",
                state.result(clock() - started),
            )
        try:
            message = yield from retrying(make_body(state), policy, rng, state.summary)
        except PTCError as exc:
            # The container died under the run (expired, or unknown to the API):
            # its code and pending calls are gone, so the turn starts over.
            if is_container_error(exc, state.container_id) and state.restart():
                continue
            raise
        step = state.on_response(message)
        if isinstance(step, Done):
            return state.result(clock() - started)
        if isinstance(step, ExecuteTools):
            executions = yield Execute(step.calls)
            state.add_results(executions)

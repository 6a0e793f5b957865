"""``/v1/messages`` and ``/v1/messages/count_tokens``: from a valid request to a message.

Glue between validation, containers, the policy, the token estimator and the
ledger. :meth:`MessagesEndpoint.create` returns the complete message body; the
caller (:class:`~ptc_observe.emulator.Emulator`) turns it into JSON or SSE and
applies faults. With ``commit=False`` (a stream that will fail) nothing is
stored or counted, so the ledger only holds what clients actually received.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .clock import Clock
from .containers import Container, ContainerLookupError, ContainerStore
from .errors import EmulatorError, invalid_request
from .history import RequestView
from .ids import IdFactory
from .ledger import Ledger, RunStep
from .policy import Policy, Turn
from .ratelimits import RateLimiter
from .responses import (
    EmulatorResponse,
    continuation_usage,
    full_usage,
    json_response,
    message_body,
    stream_usages,
)
from .scenarios import Scenario
from .shapes import thinking_tokens
from .tokens import (
    PromptCache,
    block_tokens,
    context_segments,
    count_context,
    output_tokens,
)
from .validation import parse_count_tokens_request, parse_messages_request


@dataclass
class CreateResult:
    """A message ready to send.

    Attributes:
        body: the complete (non-streamed) message.
        whole: per content block, whether a stream sends it complete.
        sampled: ``False`` for an unsampled continuation.
        output_tokens: output tokens reported.
        start_usage, delta_usage: usage for ``message_start`` and ``message_delta``.
    """

    body: dict[str, Any]
    whole: list[bool]
    sampled: bool
    output_tokens: int
    start_usage: dict[str, Any]
    delta_usage: dict[str, Any]


class MessagesEndpoint:
    """The Messages endpoints of one emulator (called under the emulator's lock)."""

    def __init__(
        self,
        *,
        ids: IdFactory,
        seed: int,
        clock: Clock,
        ledger: Ledger,
        containers: ContainerStore,
        cache: PromptCache,
        rate_limiter: RateLimiter,
        tool_result_timeout: float,
        expired_container_status: int,
        final_container: str,
        null_usage_every: int = 0,
        sub_tools: bool = False,
    ) -> None:
        self._ids = ids
        self._clock = clock
        self._ledger = ledger
        self._containers = containers
        self._cache = cache
        self._rate_limiter = rate_limiter
        self._expired_status = expired_container_status
        self._final_container = final_container
        self._null_usage_every = null_usage_every
        self._sampled_sent = 0
        self.policy = Policy(ids, seed, clock, tool_result_timeout, sub_tools)

    def validate(self, parsed: Any, version: str) -> RequestView:
        """Validate a body (see :func:`~.validation.parse_messages_request`)."""
        return parse_messages_request(parsed, anthropic_version=version)

    def create(
        self, view: RequestView, scenario: Scenario, *, commit: bool
    ) -> CreateResult:
        """Write the response to ``view``; store and count it if ``commit``.

        Raises:
            EmulatorError: 404 for an unknown container, 400 (or 500) for an
                expired one, 400 when the container holds no such paused code.
        """
        named = self._resolve_container(view)
        message_id = self._ids.message()
        turn = self.policy.respond(view, scenario, named, message_id)
        container = named
        if container is None and turn.uses_code:
            container = self._containers.new()
        if turn.sampled:
            segments = context_segments(view.body, drop_ids=view.programmatic_ids)
            # The code's result is read by the model after the request's own content.
            extra = sum(
                block_tokens(b)
                for b in turn.content
                if b["type"] == "code_execution_tool_result"
            )
            cache = self._cache.account(view.model, segments, extra)
            written = [
                b
                for b, whole in zip(turn.content, turn.whole, strict=True)
                if not whole
            ]
            thinking = sum(
                thinking_tokens(b) for b in turn.content if b["type"] == "thinking"
            )
            output = output_tokens(written) + thinking
            usage = full_usage(cache, output, code_tool=view.code_tool is not None)
            if thinking:
                usage["output_tokens_details"] = {"thinking_tokens": thinking}
            fetches = sum(
                1
                for b in turn.content
                if b["type"] == "server_tool_use" and b["name"] == "web_fetch"
            )
            if fetches and "server_tool_use" in usage:
                usage["server_tool_use"]["web_fetch_requests"] = fetches
        else:
            output = 0
            usage = continuation_usage()
        if commit:
            self._commit(
                container, created=named is None and container is not None, turn=turn
            )
        include, container_json = self._container_field(turn, container)
        # Real traffic sometimes says ``usage: null``. Only JSON bodies get it here: the
        # SDK's stream accumulator (messages.stream()) fails on a message_start without
        # usage, and the emulator must not break the clients it serves.
        null_usage = False
        if commit and turn.sampled and not view.stream and self._null_usage_every > 0:
            self._sampled_sent += 1
            null_usage = self._sampled_sent % self._null_usage_every == 0
        body = message_body(
            model=view.model,
            message_id=message_id,
            content=turn.content,
            container=container_json,
            include_container=include,
            stop_reason=turn.stop_reason,
            stop_sequence=turn.stop_sequence,
            usage=None if null_usage else usage,
        )
        if commit:
            self._ledger.record_message(
                turn.content,
                None if null_usage else usage,
                sampled=turn.sampled,
                code_outcomes=turn.code_outcomes,
                model=view.model,
                run=run_step(view, turn),
            )
            fresh = int(usage["input_tokens"]) + int(
                usage.get("cache_creation_input_tokens") or 0
            )
            self._rate_limiter.record(input_tokens=fresh, output_tokens=output)
        start, delta = stream_usages(usage, sampled=turn.sampled)
        return CreateResult(
            body,
            list(turn.whole),
            turn.sampled,
            output,
            start,
            delta,
        )

    def count_tokens(
        self, parsed: Any, request_id: str, headers: list[tuple[str, str]]
    ) -> EmulatorResponse:
        """Answer ``/v1/messages/count_tokens`` with ``{"input_tokens": n}``."""
        body = parse_count_tokens_request(parsed)
        dropped = {
            str(b.get("id"))
            for m in body["messages"]
            if isinstance(m, Mapping) and isinstance(m.get("content"), list)
            for b in m["content"]
            if isinstance(b, Mapping)
            and b.get("type") == "tool_use"
            and isinstance(b.get("caller"), Mapping)
            and b["caller"].get("type") not in (None, "direct")
        }
        total = count_context(context_segments(body, drop_ids=dropped))
        return json_response(
            200, {"input_tokens": total}, [("request-id", request_id), *headers]
        )

    def _resolve_container(self, view: RequestView) -> Container | None:
        if view.container_id is None:
            return None
        try:
            container = self._containers.lookup(view.container_id)
        except ContainerLookupError as exc:
            if exc.kind == "not_found":
                raise EmulatorError(
                    404,
                    f"container: `{view.container_id}` not found",
                    reason="container_not_found",
                ) from exc
            self._ledger.record_container("expired")
            if self._expired_status == 500:
                raise EmulatorError(
                    500, "Internal server error", reason="container_expired"
                ) from exc
            raise invalid_request(
                f"container: `{view.container_id}` has expired; send the request without `container` to get a new one",
                "container_expired",
            ) from exc
        for srv in dict.fromkeys(view.pending.values()):
            if srv not in container.code_runs:
                raise invalid_request(
                    f"container: `{container.id}` holds no paused code execution `{srv}`",
                    "resume_wrong_container",
                )
        return container

    def _commit(
        self, container: Container | None, *, created: bool, turn: Turn
    ) -> None:
        if container is None:
            return
        if created:
            self._containers.add(container)
            self._ledger.record_container("created")
        else:
            self._ledger.record_container("reused")
        self._containers.touch(container)
        now = self._clock()
        container.code_runs.update(turn.started)
        for srv in turn.finished:
            container.paused_at.pop(srv, None)
        for srv in turn.issued:
            container.paused_at[srv] = now
        container.pending = {i: srv for srv, ids in turn.issued.items() for i in ids}

    def _container_field(
        self, turn: Turn, container: Container | None
    ) -> tuple[bool, Any]:
        """Whether to include ``container`` and its value (§3.1, §9)."""
        if container is None:
            return True, None
        if turn.finished and not turn.issued:
            if self._final_container == "absent":
                return False, None
            if self._final_container == "null":
                return True, None
        return True, container.to_json()


def run_step(view: RequestView, turn: Turn) -> RunStep:
    """Where the message answering ``view`` stands in its run, as the ledger counts it.

    The run's calls are the task loop's ``tool_use`` blocks plus this turn's; its round trips
    are the user messages of tool results only since the user's own last message.
    """
    programmatic = sum(1 for r in view.records if r.srv is not None)
    direct = len(view.records) - programmatic
    asks = False
    for block in turn.content:
        if block.get("type") == "tool_use":
            asks = True
            caller = (block.get("caller") or {}).get("type", "direct")
            if caller == "direct":
                direct += 1
            else:
                programmatic += 1
    mode = "programmatic" if programmatic else "direct" if direct else "none"
    round_trips = 0
    for message in reversed(view.messages):
        if message["role"] != "user":
            continue
        content = message["content"]
        if content and all(b.get("type") == "tool_result" for b in content):
            round_trips += 1
        else:
            break
    finished = not asks and turn.stop_reason not in ("tool_use", "pause_turn")
    return RunStep(mode, finished, round_trips, len(view.records))

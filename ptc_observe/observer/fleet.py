"""What one exchange says on its own: the facts that stay exact across processes.

A fleet (gunicorn or uvicorn workers, pods behind a load balancer, a queue of workers)
serves the turns of one conversation from different processes, each with its own
observer and its own memory. A count that one process decides from what *it* saw before
(a container "seen for the first time") is wrong once summed over the fleet. The counts
below are decided from one exchange alone, its request and its response, so each
exchange is counted by the one process that served it and any split of the traffic sums
to exactly the one-process figure:

* containers: a complete response naming a container its request did not is a creation;
  a request naming a container that came back complete is a reuse; a request naming a
  container that the API refuses (a 400 or 404 about the container) is an expiry;
* tool results: each result of a request whose response came back complete, with the
  caller and tool of the call it answers, read from the request's own history
  (:attr:`~ptc_observe.events.ToolResultSent.caller`);
* tool calls, server tools, code executions and tokens: the response's own blocks.

Only a complete response (``Outcome.OK``) counts: a request refused, retried by the SDK
or cut mid-stream never reached the model, and its retry is counted when it does.
"""

from __future__ import annotations

from ..events import Exchange, Outcome

__all__ = ["CONTAINER_ERROR_STATUSES", "container_use", "is_container_refusal"]

# The API refuses an unknown container id with 404 and an expired one with a 400; neither
# error is named in the docs, but both messages speak of the container (wire reference
# §5.2). An expired container restored with uploads has also been seen to fail with an
# untyped 500 "Internal server error": on the wire that cannot be told from any other
# server error, so it is not counted as an expiry.
CONTAINER_ERROR_STATUSES = frozenset({400, 404})


def is_container_refusal(ex: Exchange) -> bool:
    """True when the request named a container and the API refused that container."""
    return (
        ex.request.container_id is not None
        and ex.outcome is Outcome.ERROR
        and ex.status_code in CONTAINER_ERROR_STATUSES
        and ex.error_message is not None
        and "container" in ex.error_message.lower()
    )


def container_use(ex: Exchange) -> tuple[bool, bool, bool]:
    """``(created, reused, expired)`` of the exchange's container, from the exchange alone.

    At most one is true. A complete response whose container differs from the one its
    request named is a creation (the API gave a new one); its request's container is then
    not counted as reused.
    """
    requested = ex.request.container_id
    if ex.outcome is not Outcome.OK:
        return False, False, is_container_refusal(ex)
    reply = ex.reply
    answered = reply.container if reply is not None else None
    if answered is not None and answered.id != requested:
        return True, False, False
    return False, requested is not None, False

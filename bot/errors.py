"""The one exception tree of newsbot; third-party errors are translated at the edge.

    NewsbotError
    ├── ConfigError          bad settings or files given at start (feeds file, rule files)
    ├── StoreError           the Redis/Valkey server is unreachable or misbehaves (bot/store/
    │   │                    raises it for every error of the client: bot/store/base.py)
    │   ├── LeaseHeldError   another worker holds the lease asked for (Store.lease)
    │   └── EmbeddedServerError   the embedded Valkey server cannot run here
    ├── FeedError            one feed could not be fetched or parsed (carries the feed id)
    │   ├── FetchError       network, HTTP status, size cap, timeout
    │   └── ParseError       not a feed, malformed XML, unreadable seed file
    ├── RuleError            a rule expression is invalid (carries the position)
    └── ChannelError         a chat platform refused or failed a send/edit
        ├── RetryAfterError  the platform asked us to wait `retry_after` seconds
        └── MessageGoneError the message to edit no longer exists (deleted by a user)
"""

from __future__ import annotations


class NewsbotError(Exception):
    """Base of every error newsbot raises on purpose."""


class ConfigError(NewsbotError):
    """Settings or a configuration file are invalid."""


class StoreError(NewsbotError):
    """The store's server cannot be reached or answered unexpectedly."""


class LeaseHeldError(StoreError):
    """Another worker holds the lease asked for, and kept it for as long as we could wait."""


class EmbeddedServerError(StoreError):
    """The embedded Valkey server cannot be started on this machine."""


class FeedError(NewsbotError):
    """A single feed failed; the others go on."""

    def __init__(self, feed: str, message: str, *, kind: str = "error") -> None:
        super().__init__(f"feed {feed}: {message}")
        self.feed = feed
        self.kind = kind


class FetchError(FeedError):
    """The feed could not be fetched (network, status, timeout, size cap)."""


class ParseError(FeedError):
    """The feed's content could not be read as a feed."""


class RuleError(NewsbotError):
    """A rule expression is invalid; `position` is the 0-based offset of the problem."""

    def __init__(self, message: str, *, expression: str = "", position: int = 0) -> None:
        self.message = message
        self.expression = expression
        self.position = position
        super().__init__(f"{message} (at column {position + 1})")


class ChannelError(NewsbotError):
    """A chat platform failed a send or edit."""


class RetryAfterError(ChannelError):
    """The platform rate-limited us; try again after `retry_after` seconds."""

    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class MessageGoneError(ChannelError):
    """The message an edit was aimed at no longer exists; post a new one instead."""

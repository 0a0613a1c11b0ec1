"""The event bus: one subscription per process, callbacks instead of per-subscriber tasks.

Delivery here is at-most-once (Redis pub/sub semantics). Anything that must not be
lost is written to the database first with a position; the bus only says "there is
something new" so that consumers deliver it at once, and `on_reconnect` tells them to
re-read from their last position after an outage.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import Callable

log = logging.getLogger("chonai.events")

Callback = Callable[[str, bytes], None]


class EventBus(abc.ABC):
    """Channel -> callbacks; callbacks are synchronous and must not block.

    A real base class (not a Protocol) so Litestar can check the injected dependency's type.
    """

    healthy: bool = True

    def __init__(self) -> None:
        self.callbacks: dict[str, list[Callback]] = defaultdict(list)
        self.reconnect_hooks: list[Callable[[], None]] = []

    def add(self, channel: str, callback: Callback) -> bool:
        first = channel not in self.callbacks
        self.callbacks[channel].append(callback)
        return first

    def remove(self, channel: str, callback: Callback) -> bool:
        callbacks = self.callbacks.get(channel)
        if callbacks and callback in callbacks:
            callbacks.remove(callback)
        if callbacks is not None and not callbacks:
            del self.callbacks[channel]
            return True
        return False

    def deliver(self, channel: str, data: bytes) -> None:
        for callback in list(self.callbacks.get(channel, ())):
            try:
                callback(channel, data)
            except Exception:  # one broken consumer must not starve the others
                log.exception("event callback failed on %s", channel)

    def on_reconnect(self, callback: Callable[[], None]) -> None:
        self.reconnect_hooks.append(callback)

    def remove_reconnect(self, callback: Callable[[], None]) -> None:
        """Forget a hook (its owner is closing); unknown hooks are ignored."""
        if callback in self.reconnect_hooks:
            self.reconnect_hooks.remove(callback)

    @abc.abstractmethod
    async def start(self) -> None: ...

    @abc.abstractmethod
    async def close(self) -> None: ...

    @abc.abstractmethod
    async def publish(self, channel: str, data: bytes) -> None: ...

    @abc.abstractmethod
    async def subscribe(self, channel: str, callback: Callback) -> None: ...

    @abc.abstractmethod
    async def unsubscribe(self, channel: str, callback: Callback) -> None: ...


class InProcessBus(EventBus):
    """The embedded default: one process, no other service."""

    healthy = True

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        self.callbacks.clear()

    async def publish(self, channel: str, data: bytes) -> None:
        self.deliver(channel, data)

    async def subscribe(self, channel: str, callback: Callback) -> None:
        self.add(channel, callback)

    async def unsubscribe(self, channel: str, callback: Callback) -> None:
        self.remove(channel, callback)


class RedisBus(EventBus):
    """Scale-out through Redis pub/sub: one connection and one reader task per process."""

    def __init__(self, url: str, prefix: str = "chonai:") -> None:
        super().__init__()
        self.url = url
        self.prefix = prefix
        self.healthy = False
        self._task: asyncio.Task[None] | None = None
        self._pubsub: object | None = None
        self._lock = asyncio.Lock()
        from redis.asyncio import Redis
        from redis.asyncio.retry import Retry
        from redis.backoff import ExponentialBackoff
        from redis.exceptions import ConnectionError as RedisConnectionError
        from redis.exceptions import TimeoutError as RedisTimeoutError

        # A pooled connection the server has closed fails once; retrying on a fresh one is safe
        # for PUBLISH. A real outage still fails after these few quick attempts.
        self._publisher = Redis.from_url(
            url,
            socket_connect_timeout=2,
            socket_timeout=5,
            health_check_interval=10,
            retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), 3),
            retry_on_error=[RedisConnectionError, RedisTimeoutError],
        )

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="redis-bus")

    async def close(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._publisher.aclose()

    async def publish(self, channel: str, data: bytes) -> None:
        await self._publisher.publish(self.prefix + channel, data)

    async def subscribe(self, channel: str, callback: Callback) -> None:
        if self.add(channel, callback):
            await self._send("subscribe", channel)

    async def unsubscribe(self, channel: str, callback: Callback) -> None:
        if self.remove(channel, callback):
            await self._send("unsubscribe", channel)

    async def _send(self, command: str, channel: str) -> None:
        pubsub = self._pubsub
        if pubsub is None:  # not connected: the reader subscribes to everything when it is
            return
        try:
            async with self._lock:
                await getattr(pubsub, command)(self.prefix + channel)
        except Exception as exc:  # the reader task notices and reconnects
            log.warning("redis %s failed: %s", command, exc)

    async def _run(self) -> None:
        from redis.asyncio import Redis

        delay = 0.2
        first = True
        while True:
            client = Redis.from_url(self.url, socket_connect_timeout=2, health_check_interval=10)
            pubsub = client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self.prefix + "_control")
                if self.callbacks:
                    await pubsub.subscribe(*(self.prefix + c for c in self.callbacks))
                self._pubsub = pubsub
                self.healthy = True
                delay = 0.2
                if not first:
                    log.warning("redis bus reconnected")
                    for hook in list(self.reconnect_hooks):
                        hook()
                first = False
                async for message in pubsub.listen():
                    if message["type"] == "message":
                        self.deliver(message["channel"].decode()[len(self.prefix) :], message["data"])
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.healthy = False
                log.error("redis bus lost its connection (%s); retrying in %.1fs", exc.__class__.__name__, delay)
            finally:
                self._pubsub = None
                self.healthy = False
                try:
                    await pubsub.aclose()  # type: ignore[no-untyped-call]
                    await client.aclose()
                except Exception:  # closing a dead connection can fail; nothing to do about it
                    log.debug("redis close failed", exc_info=True)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)


async def publish_committed(bus: EventBus, channel: str, data: bytes) -> bool:
    """Publish news of a change that is already committed; the one place actions publish from.

    It never raises: the change is durable, so a bus outage must not turn it into an error
    for the caller. Readers catch up from the database (positions, `on_reconnect`, the sweep).
    Returns whether the bus took the message.
    """
    try:
        await bus.publish(channel, data)
    except Exception as exc:
        # A warning, not an error: the change is durable and readers resync; the bus logs the outage itself.
        log.warning("publish on %s failed after commit (%s); readers resync", channel, exc.__class__.__name__)
        return False
    return True


def create_bus(redis_url: str | None, prefix: str = "chonai:") -> EventBus:
    return RedisBus(redis_url, prefix) if redis_url else InProcessBus()

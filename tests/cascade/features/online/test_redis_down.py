"""An unreachable Redis raises the typed error after a bounded timeout; nothing hangs."""

from __future__ import annotations

import socket

import numpy as np
import pytest

from cascade.features.online import RedisStoreConfig, StoreUnavailable, create_store
from cascade.features.session import Event
from cascade.ports import free_port


def test_unreachable_redis_raises_typed_error_quickly() -> None:
    store = create_store(RedisStoreConfig(url=f"redis://127.0.0.1:{free_port()}/0", connect_timeout_s=0.2))
    with pytest.raises(StoreUnavailable):
        store.fetch(1, np.arange(5, dtype=np.int64))
    with pytest.raises(StoreUnavailable):
        store.record_event(Event(1, 1, "play", 0.0), 0, True)
    with pytest.raises(StoreUnavailable):
        store.ping()


def test_silent_server_times_out() -> None:
    """A server that accepts but never answers: the socket timeout bounds the call."""
    with socket.socket() as srv:
        srv.bind(("127.0.0.1", 0))
        srv.listen(1)
        port = srv.getsockname()[1]
        store = create_store(RedisStoreConfig(url=f"redis://127.0.0.1:{port}/0", socket_timeout_s=0.2))
        with pytest.raises(StoreUnavailable):
            store.ping()

"""Slack's side of Socket Mode on loopback: a WebSocket server that says hello, sends envelopes (a slash
command, a button click) the way Slack does, and records the acknowledgements the app sends back.

`FakeSlack.socket_url` points `apps.connections.open` here, so the app under test connects exactly as it does
to Slack: app-level token → apps.connections.open → WebSocket → hello → envelopes → acks.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from typing import Any

from websockets.exceptions import ConnectionClosed
from websockets.sync.server import ServerConnection, serve


class FakeSocketMode:
    def __init__(self) -> None:
        self._server = serve(self._handle, "127.0.0.1", 0)
        self.port = self._server.socket.getsockname()[1]
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-socket-mode", daemon=True)
        self._lock = threading.Lock()
        self._connections: list[ServerConnection] = []
        self.acks: dict[str, dict[str, Any]] = {}  # envelope id -> what the app sent back
        self.received: list[dict[str, Any]] = []
        self._ids = itertools.count(1)

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/link/?ticket=test"

    def __enter__(self) -> FakeSocketMode:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._server.shutdown()
        self._thread.join(timeout=5)

    def _handle(self, conn: ServerConnection) -> None:
        conn.send(
            json.dumps(
                {
                    "type": "hello",
                    "num_connections": 1,
                    "debug_info": {"host": "fake-socket-mode", "approximate_connection_time": 18060},
                    "connection_info": {"app_id": "A0APP0001"},
                }
            )
        )
        with self._lock:
            self._connections.append(conn)
        try:
            for raw in conn:
                message = json.loads(raw)
                with self._lock:
                    self.received.append(message)
                    if "envelope_id" in message:
                        self.acks[message["envelope_id"]] = message
        except ConnectionClosed:
            pass
        finally:
            with self._lock:
                self._connections.remove(conn)

    def wait_connected(self, timeout: float = 30.0) -> None:
        deadline = time.time() + timeout
        while time.time() < deadline:
            with self._lock:
                if self._connections:
                    return
            time.sleep(0.05)
        raise AssertionError("the app never connected over Socket Mode")

    def send(self, kind: str, payload: dict[str, Any]) -> str:
        """Send one envelope ("slash_commands", "interactive", "events_api"); returns its envelope id."""
        envelope_id = f"env-{next(self._ids)}"
        envelope = {"envelope_id": envelope_id, "type": kind, "payload": payload, "accepts_response_payload": True}
        with self._lock:
            conn = self._connections[-1]
        conn.send(json.dumps(envelope))
        return envelope_id

    def wait_ack(self, envelope_id: str, timeout: float = 10.0) -> tuple[dict[str, Any], float]:
        """(the acknowledgement, seconds it took)."""
        started = time.time()
        while time.time() - started < timeout:
            with self._lock:
                ack = self.acks.get(envelope_id)
            if ack is not None:
                return ack, time.time() - started
            time.sleep(0.01)
        raise AssertionError(f"no ack for {envelope_id}; received {self.received}")

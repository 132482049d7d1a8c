"""Clients without a key sending 15 MB websocket messages leave the server's memory where it was,
and an authenticated feed keeps receiving events meanwhile (`ledgrab serve` as its own process,
its RSS read from /proc)."""

import asyncio
import json
import threading

import httpx
import websockets
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from tests.support.hostile import reset_peak_rss, rss_mib
from tests.support.live_server import wait_for
from tests.support.process_server import ServeProcess

MESSAGE_BYTES = 15 * 1024 * 1024
RSS_BOUND_MIB = 20


async def _send_big_first_message(url: str, ssl_context, payload: bytes) -> int | None:
    """One unauthenticated client: connect, send `payload` as its first message; the close code."""
    try:
        async with websockets.connect(
            url, ssl=ssl_context, compression=None, open_timeout=60
        ) as ws:
            await asyncio.wait_for(ws.send(payload), 120)
            await asyncio.wait_for(ws.wait_closed(), 120)
            return ws.close_code
    except ConnectionClosed as exc:
        return exc.rcvd.code if exc.rcvd else None
    except OSError:
        return None  # the server reset a socket it had refused


async def _flood(server: ServeProcess, key: str, clients: int, devices: int) -> list:
    payload = bytes(MESSAGE_BYTES)  # one buffer shared by every client
    attackers = [
        asyncio.create_task(_send_big_first_message(server.ws_url, server.ssl_context, payload))
        for _ in range(clients)
    ]
    # While they send: changes an authenticated feed must hear about.
    async with httpx.AsyncClient(
        base_url=server.base_url,
        headers={"Authorization": f"Bearer {key}"},
        timeout=60,
        verify=server.verify,
    ) as client:
        for n in range(devices):
            answer = await client.post(
                "/api/v1/devices", json={"name": f"flood {n}", "type": "virtual", "led_count": 8}
            )
            assert answer.status_code == 201, answer.text
    return await asyncio.gather(*attackers)


def _flood_and_measure(tmp_path, clients: int) -> None:
    server = ServeProcess(tmp_path / "data", env={"LEDGRAB_LOG_LEVEL": "warning"}).start()
    received: list[dict] = []
    try:
        with connect(
            server.ws_url,
            ssl=server.ws_ssl_context,
            additional_headers={"X-API-Key": server.api_key},
        ) as feed:
            assert json.loads(feed.recv(timeout=10))["type"] == "hello"

            def listen() -> None:
                try:
                    while True:
                        message = json.loads(feed.recv(timeout=60))
                        if message["type"] == "entity_changed":
                            received.append(message)
                except (ConnectionClosed, TimeoutError):
                    pass

            listener = threading.Thread(target=listen, name="authenticated-feed")
            listener.start()
            before = rss_mib(server.proc.pid)
            reset_peak_rss(server.proc.pid)
            codes = asyncio.run(_flood(server, server.api_key, clients, devices=5))
            wait_for(lambda: len(received) >= 5, timeout=30, what="the feed's events")
            after = rss_mib(server.proc.pid)
            peak = rss_mib(server.proc.pid, "VmHWM")
            feed.close()
            listener.join(30)
    finally:
        server.terminate()
    # 1009: the message was refused from its frame header; 1013: the server had no room for
    # another socket waiting for a key. Either way nothing of the 15 MB was kept.
    print(
        f"{clients} clients x 15 MB: RSS {before:.1f} MiB before, peak {peak:.1f}, "
        f"after {after:.1f}; close codes {sorted(set(codes), key=str)}"
    )
    # Peak as well as after: memory taken during the attack and given back is still an OOM kill
    # on a 512 MB board.
    assert max(peak, after) - before < RSS_BOUND_MIB, f"RSS {before:.0f} -> peak {peak:.0f} MiB"
    assert set(codes) <= {1009, 1013, None}, codes
    assert 1009 in codes
    assert {m["entity_name"] for m in received} >= {f"flood {n}" for n in range(5)}


def test_a_hundred_unauthenticated_15mb_messages_leave_memory_where_it_was(tmp_path):
    _flood_and_measure(tmp_path, clients=100)

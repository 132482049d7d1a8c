"""The debug-log tail is bounded, ordered, and safe to feed from many threads."""

import logging
import threading

from ledgrab.core.log_broadcaster import LogBroadcaster


def test_tail_keeps_the_newest_lines_from_many_threads():
    handler = LogBroadcaster(capacity=50)
    logger = logging.getLogger("ledgrab.test.broadcaster")
    logger.addHandler(handler)
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    try:

        def spam(tag):
            for n in range(100):
                logger.info("%s %d", tag, n)

        workers = [threading.Thread(target=spam, args=(f"t{i}",)) for i in range(4)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
    finally:
        logger.removeHandler(handler)
        logger.propagate = True
    lines = handler.tail()
    assert len(lines) == 50
    assert [line.seq for line in lines] == list(range(351, 401))
    assert handler.tail(limit=3, after_seq=390)[-1].seq == 400
    assert len(handler.tail(after_seq=398)) == 2


def test_exceptions_are_folded_into_one_line():
    handler = LogBroadcaster(capacity=5)
    logger = logging.getLogger("ledgrab.test.exc")
    logger.addHandler(handler)
    try:
        try:
            raise ValueError("bad\nthing")
        except ValueError:
            logger.exception("failed")
    finally:
        logger.removeHandler(handler)
    (line,) = handler.tail()
    assert line.level == "error"
    assert "ValueError" in line.message
    assert "Traceback" in line.message


def test_websocket_and_http_client_chatter_is_debug_level(tmp_path):
    """A websocket's accept/open/close and each httpx request line are debug records: absent
    from the viewer's tail at info level, present (as debug) at debug level."""
    from websockets.sync.client import connect

    from tests.support.live_server import LiveServer
    from tests.support.receivers import FakeWled

    root = logging.getLogger()
    previous = root.level
    try:
        for level in (logging.INFO, logging.DEBUG):
            root.setLevel(level)
            with LiveServer(tmp_path / f"d{level}") as live, live.client() as client:
                headers = {"X-API-Key": live.api_key}
                with connect(
                    live.ws_url, additional_headers=headers, ssl=live.ws_ssl_context
                ) as ws:
                    ws.recv(timeout=10)
                with FakeWled({"leds": {"count": 3}}) as wled:
                    import httpx

                    httpx.get(f"http://127.0.0.1:{wled.port}/json/info", timeout=5)
                logging.getLogger("uvicorn.error").info("connection closed")
                lines = client.get("/api/v1/system/logs", params={"limit": 1000}).json()
            chatter = [
                line for line in lines
                if "connection open" in line["message"] or "connection closed" in line["message"]
                or "WebSocket" in line["message"] or "HTTP Request:" in line["message"]
            ]  # fmt: skip
            if level == logging.INFO:
                assert chatter == [], chatter
            else:
                assert chatter and {line["level"] for line in chatter} == {"debug"}, chatter
    finally:
        root.setLevel(previous)

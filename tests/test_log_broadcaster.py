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

"""The background channel publisher: saves never wait on the layer, sends keep their order."""

from __future__ import annotations

import asyncio
import threading

from annotation_ui.publisher import Publisher


class RecordingLayer:
    """A stand-in server layer: records sends, can be made slow or failing."""

    def __init__(self, delay: float = 0.0, fail_on: str | None = None) -> None:
        self.delay = delay
        self.fail_on = fail_on
        self.sent: list[tuple[str, int]] = []
        self.release = threading.Event()

    async def group_send(self, group: str, message: dict) -> None:
        if self.delay:
            await asyncio.sleep(self.delay)
        if group == self.fail_on:
            raise ConnectionError("redis is down")
        self.sent.append((group, message["n"]))


def test_sends_arrive_in_the_order_they_were_submitted():
    pub, layer = Publisher(), RecordingLayer(delay=0.001)
    for n in range(50):
        assert pub.submit(layer, f"case.{n % 3}", {"n": n})
    assert pub.flush(5.0)
    assert [n for _, n in layer.sent] == list(range(50))
    assert pub.sent == 50 and pub.failed == 0


def test_submit_returns_before_a_slow_layer_has_sent():
    pub, layer = Publisher(), RecordingLayer(delay=0.3)
    pub.submit(layer, "case.1", {"n": 1})
    assert layer.sent == [] and pub.pending == 1
    assert pub.flush(5.0) and layer.sent == [("case.1", 1)]


def test_a_failing_send_is_counted_and_the_next_one_still_goes_out():
    pub, layer = Publisher(), RecordingLayer(fail_on="case.bad")
    pub.submit(layer, "case.bad", {"n": 1})
    pub.submit(layer, "case.ok", {"n": 2})
    assert pub.flush(5.0)
    assert pub.failed == 1 and layer.sent == [("case.ok", 2)]


def test_past_max_pending_a_send_is_dropped_not_queued():
    pub, layer = Publisher(max_pending=2), RecordingLayer(delay=0.2)
    results = [pub.submit(layer, "case.1", {"n": n}) for n in range(4)]
    assert results == [True, True, False, False] and pub.dropped == 2
    assert pub.flush(5.0) and [n for _, n in layer.sent] == [0, 1]

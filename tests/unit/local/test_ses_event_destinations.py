"""Local mode's event destinations of a configuration set: urgent events on the bus, one
message each; Send, Delivery, Open and Click through the stream into objects of at most the
buffer size, each announced by S3's notification; another stack's events nowhere."""

from __future__ import annotations

import json

from fanmail.domain.event_objects import EVENTS_PREFIX, event_records, notified_objects
from fanmail_local.adapters.events import (
    FirehoseToS3,
    MemoryEventBus,
    MemoryQueue,
    SesEventDestinations,
)
from fanmail_local.adapters.import_jobs import MemoryBlobStore
from tests.feedback_events import ses_event

SETS = frozenset({"ours"})


def test_each_event_goes_to_one_destination_and_objects_keep_to_the_buffer_size() -> None:
    urgent, announced, objects = MemoryQueue("FeedbackQueue"), MemoryQueue("n"), MemoryBlobStore()
    firehose = FirehoseToS3(objects, "events", announced, size_bytes=4096)
    destinations = SesEventDestinations(MemoryEventBus(SETS, urgent), firehose, SETS)
    bulk = [
        ses_event(kind, to=f"r{n}@example.com", configuration_set="ours")
        for n in range(6)
        for kind in ("send", "delivery", "open", "click")
    ]
    bounce = ses_event("bounce", configuration_set="ours")
    other = ses_event("delivery", configuration_set="someone-elses")
    entries = [("Email", record) for record in [*bulk, bounce, other]]

    destinations.publish("aws.ses", entries)

    [message] = urgent.receive(10, 0)
    assert json.loads(message.body)["detail"]["eventType"] == "Bounce"
    read_back: list[object] = []
    notifications = announced.receive(100, 0)
    assert len(notifications) == firehose.delivered > 1
    for notification in notifications:
        [found] = notified_objects(json.loads(notification.body))  # type: ignore[misc]
        assert found.bucket == "events" and found.key.startswith(EVENTS_PREFIX)
        data = objects.read(found.key, 0, 1 << 20)
        assert len(data) == found.size <= 4096 and data.endswith(b"\n")
        read_back.extend(event_records([data]))
    assert read_back == bulk  # in order, none lost, none of another set

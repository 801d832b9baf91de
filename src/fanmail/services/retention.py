"""The retention job: what DynamoDB's TTL cannot do. Consent-history source IPs older than the
setting are truncated or dropped (the entries stay: when and how consent was given is the
record). A schedule runs it daily; it walks every subscriber and hands the rest on to a new
invocation of itself near its time limit."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypedDict

from fanmail.domain.retention import ConsentIps, IpRetention
from fanmail.domain.workers import RetentionStep
from fanmail.functions import RETENTION
from fanmail.ports import Clock, Invoker, SubscriberStore

PAGE = 500


class RetentionReport(TypedDict):
    read: int
    rewritten: int
    cursor: str | None
    handed_on: bool


@dataclass
class Retention:
    subscribers: SubscriberStore
    invoker: Invoker
    clock: Clock
    consent_ips: ConsentIps
    page: int = PAGE

    def run(self, cursor: str | None, deadline: float) -> RetentionReport:
        report = RetentionReport(read=0, rewritten=0, cursor=cursor, handed_on=False)
        if self.consent_ips.policy is IpRetention.KEEP:
            return report
        while True:
            page, cursor = self.subscribers.every(cursor, self.page)
            now = self.clock.now()
            for subscriber in page:
                history = self.consent_ips.applied(subscriber.history, now)
                if history is not subscriber.history:
                    # one changed since it was read is left for the next day's run
                    report["rewritten"] += self.subscribers.rewrite_history(subscriber, history)
            report["read"] += len(page)
            report["cursor"] = cursor
            if cursor is None:
                return report
            if self.clock.now() >= deadline:
                self.invoker.invoke_async(RETENTION.name, RetentionStep(cursor).to_event())
                report["handed_on"] = True
                return report

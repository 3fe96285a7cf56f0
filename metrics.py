"""Loa's Prometheus counters, one set per App (its own registry, so tests with several apps do
not clash), incremented where the events happen: ingest counts polls and items, delivery and
the channels' replies count sends and 429s. What is a database read (outbox depth, chats,
subscribers, sources) is read at scrape time by web/ops.py instead.

Served as Prometheus text on METRICS_ADDR by web/server.py; the names are listed in the README.
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Histogram

# Fetch and store of one source take from a few milliseconds (304) to the 20 s timeout.
POLL_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 60.0)
# Why a message was sent: an outbox row (delivery.sender) or a reply (channels.inbound).
DELIVERY, REPLY = "delivery", "reply"


class Metrics:
    """The counters and histograms of one running App."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.polls = Counter("loa_source_polls", "Source polls, by outcome (new, unchanged, "
                             "error)", ["status"], registry=r)
        self.poll_seconds = Histogram("loa_source_poll_seconds", "Time to read, store and "
                                      "classify one source, by outcome", ["status"],
                                      buckets=POLL_BUCKETS, registry=r)
        self.items_fetched = Counter("loa_items_fetched", "Entries read from sources that had "
                                     "new content", registry=r)
        self.items_stored = Counter("loa_items_stored", "New items stored, by kind (new, "
                                    "backlog: a source's first read, republished: a copy)",
                                    ["kind"], registry=r)
        self.items_classified = Counter("loa_items_classified", "Items classified", registry=r)
        self.labels = Counter("loa_labels", "Labels given by the classifier, by kind (province, "
                              "topic) and label", ["kind", "label"], registry=r)
        self.messages = Counter("loa_messages_sent", "Sends to a chat platform, by channel, "
                                "purpose (delivery, reply) and outcome", ["channel", "purpose",
                                                                          "outcome"], registry=r)
        self.rate_limited = Counter("loa_rate_limited", "429 answers (retry after), by channel",
                                    ["channel"], registry=r)
        self.rate_limit_wait = Counter("loa_rate_limit_wait_seconds", "Seconds of waiting the "
                                       "429 answers asked for, by channel", ["channel"],
                                       registry=r)

    def sent(self, channel: str, purpose: str, outcome: str, wait: float | None = None) -> None:
        """One send's answer; `wait` is the platform's (or our back-off's) wait after a 429."""
        self.messages.labels(channel, purpose, outcome).inc()
        if wait is not None:
            self.rate_limited.labels(channel).inc()
            self.rate_limit_wait.labels(channel).inc(max(wait, 0.0))

    def classified(self, provinces: Iterable[str], topics: Iterable[str]) -> None:
        self.items_classified.inc()
        for code in provinces:
            self.labels.labels("province", code).inc()
        for code in topics:
            self.labels.labels("topic", code).inc()

"""Delivery: match new items to subscriptions, gather digests and reports (composed by render/),
send them via the outbox."""

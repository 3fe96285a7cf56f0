"""Delivery: match new items to subscriptions, compose messages and digests, send them via the outbox."""

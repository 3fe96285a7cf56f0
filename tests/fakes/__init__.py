"""Fake servers that tests start on 127.0.0.1: feeds, Telegram's Bot API, Zalo's Bot API."""

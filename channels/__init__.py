"""Chat channels behind one interface (model/channel.py): Telegram, Zalo and the console, and the
shared inbound runner (channels/inbound.py)."""

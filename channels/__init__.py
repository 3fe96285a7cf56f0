"""Chat channels behind one interface: Telegram, Zalo and the console (channels/base.py)."""

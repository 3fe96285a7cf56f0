"""Loa on the web: the read-only public pages and Atom feeds, served over aiohttp."""

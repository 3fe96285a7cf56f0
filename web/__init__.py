"""What Loa serves over HTTP, on aiohttp: the servers of the running bot (server.py), health and
metrics (ops.py), and the read-only public pages and Atom feeds (pages.py, atom.py)."""

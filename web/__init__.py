"""What Loa serves over HTTP with aiohttp: health and metrics (ops.py), on the servers that
server.py starts for the running bot."""

"""The types every layer shares (Miniflux's model): the Channel protocol and its message types.

Nothing here imports the rest of Loa, so any layer may import it without a cycle.
"""

"""Rendering: what users read. Markup escaping (`markup`), message composition (`compose`) and the
one catalogue of user-facing texts (`texts`, over data/messages/<lang>.json).

Pure functions over runtime-free layers (storage's read models, vntext, catalog): the handlers,
delivery and the channels call them; nothing below them imports render.
"""

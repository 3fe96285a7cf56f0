"""Ingestion: fetch, parse, normalise, store and poll sources."""

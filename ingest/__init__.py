"""The pipeline: for one source, fetch → parse → store → classify → labels → match → alert."""

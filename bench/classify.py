#!/usr/bin/env python3
"""`make bench` entry for the classifier: the same as bench/classify_eval.py (see there).

    .venv/bin/python bench/classify.py [FILE.jsonl ...] [--errors N]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from classify_eval import main

if __name__ == "__main__":
    main()

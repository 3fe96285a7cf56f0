"""Regenerate migration 0001 from storage/models.py.

Only while no release has shipped: afterwards every schema change is a new revision
(`alembic revision --autogenerate -m "..."`).
"""

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from alembic import command  # noqa: E402

from storage.migrate import MIGRATIONS, alembic_config  # noqa: E402

if __name__ == "__main__":
    for old in (MIGRATIONS / "versions").glob("0001_*.py"):
        old.unlink()
    with tempfile.TemporaryDirectory() as tmp:
        cfg = alembic_config(f"sqlite:///{Path(tmp) / 'empty.db'}")
        command.revision(cfg, message="initial schema", autogenerate=True, rev_id="0001")

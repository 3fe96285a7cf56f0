"""Re-classifying stored items after the gazetteer or the rules change."""

from __future__ import annotations

import logging

from sqlalchemy import select, update

from classify import Classifier, get_classifier
from ingest.labels import to_labels
from runtime import App
from storage.labels import LabelChanges, replace_labels
from storage.models import Item, Source

log = logging.getLogger(__name__)

BATCH = 500


async def reclassify_all(app: App, classifier: Classifier | None = None,
                         batch: int = BATCH) -> LabelChanges:
    """Classify every stored item again and replace its labels; returns what changed.

    Works through the items in id order, one transaction per batch, so a large database is
    never held in one transaction and an interruption leaves whole batches done.
    """
    classifier = classifier or get_classifier()
    changes, after = LabelChanges(), 0
    while True:
        async with app.sessions() as session, session.begin():
            rows = (await session.execute(
                select(Item.id, Item.title, Item.summary, Source.province)
                .join(Source, Source.id == Item.source_id)
                .where(Item.id > after).order_by(Item.id).limit(batch))).all()
            if not rows:
                break
            changes += await replace_labels(session, [
                (item_id, to_labels(classifier.classify(title or "", summary or "", province)))
                for item_id, title, summary, province in rows])
            await session.execute(update(Item).where(Item.id.in_([r[0] for r in rows]))
                                  .values(classified_at=app.clock()))
        after = rows[-1][0]
        log.info("reclassified %d items", changes.items)
    return changes

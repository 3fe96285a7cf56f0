"""classify/wordweights.c: TopicModel.word_logits without a Python object per word."""

from collections.abc import Iterable, Sequence

class WordWeights:
    def __init__(self, unit: int, start: Sequence[int],
                 tables: tuple[dict[str, list[int]], ...]) -> None: ...
    def logits(self, folded: str, title_end: int, pairs: Iterable[str]) -> list[float]: ...

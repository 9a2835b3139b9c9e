"""What the stages remember of words: one bounded mechanism, one way to empty it."""

from collections import Counter

from pipeline import caches
from pipeline.caches import WordCache, WordSet
from pipeline.records import Document


def test_caches_fill_while_processing_and_clear_empties_every_one(stages):
    document = Document("d.txt", "d.txt", "txt", "paragraphs",
                        "Anggaran pelatihan dipotong, jadi pemasaran online kami terhambat.\n\n"
                        "The export training helped our staff a lot.")
    stages.tokenize(stages.segment(document, Counter()), Counter())
    filled = [c for c in list(caches._CACHES) if len(c)]
    assert len(filled) >= 3  # the tokenizer's, the lemmatiser's and the language detector's at least
    assert {type(c) for c in filled} <= {WordCache, WordSet}
    caches.clear()
    assert not [c for c in list(caches._CACHES) if len(c)]
    again = stages.tokenize(stages.segment(document, Counter()), Counter())  # and they fill again, same result
    assert [t.text for _, doc in again for t in doc][:3] == ["Anggaran", "pelatihan", "dipotong"]


def test_caches_are_bounded_and_linked_caches_are_emptied_together():
    splits = WordCache(limit=10)
    seen = WordSet(limit=3, linked=(splits,))
    seen.update({1, 2, 3})
    splits.update({1: ("a",)})
    assert not seen.make_room() and len(seen) == 3  # at the limit: kept
    seen.add(4)
    assert seen.make_room() and not seen and not splits

"""Rebuild configs/lexicon/colloquial_id.tsv from the IndoCollex dictionary.

    python scripts/build_colloquial_lexicon.py [PATH_TO_indocollex_TSV]

Keeps single-word alphabetic pairs, and drops entries whose informal side is an English
word (IndoCollex also lists translations such as *branding → merek*, *at → pada*, which
would rewrite the English half of code-switched sentences): an English stop word, or an
English word of four letters or more that spaCy's Indonesian tables do not know. Then
appends the maintainers' additions kept at the end of the current file.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

from spacy.lang.en.stop_words import STOP_WORDS as EN_STOP_WORDS
from spacy.lookups import load_lookups

from pipeline.vocabulary import indonesian_words

ROOT = Path(__file__).resolve().parent.parent
TARGET = ROOT / "configs" / "lexicon" / "colloquial_id.tsv"
SOURCE = ROOT.parent / "shared" / "data" / "indocollex" / "inforformal-formal-Indonesian-dictionary.tsv"
ADDITIONS = "# --- additions by the Pilah maintainers ---"
HEADER = """# Colloquial Indonesian -> formal form, one pair per line (informal<TAB>formal).
# Source: IndoCollex informal-formal dictionary (haryoa/indo-collex @ df626e8, dict/,
# MIT licence, Wibowo et al., Findings of ACL 2021): alphabetic single-word entries, minus
# English words (translations, not colloquial forms); rebuilt by
# scripts/build_colloquial_lexicon.py. Then additions by the Pilah maintainers."""


def main(source: Path = SOURCE) -> None:
    table = load_lookups("en", ["lemma_lookup"]).get_table("lemma_lookup")
    english = set(table.values())
    indonesian = indonesian_words()

    def is_english(word: str) -> bool:
        if word in EN_STOP_WORDS:
            return True
        return len(word) >= 4 and (word in english or word in table) and word not in indonesian

    additions = TARGET.read_text(encoding="utf-8").split(ADDITIONS, 1)[1].strip().splitlines()
    added = {line.split("\t", 1)[0] for line in additions}
    pairs, seen, dropped = [], set(), 0
    with open(source, encoding="utf-8", newline="") as handle:
        for informal, formal in csv.reader(handle, delimiter="\t"):
            if informal == "informal" or not informal.isalpha() or not informal.islower():
                continue
            if not all(part.isalpha() for part in formal.split()) or informal in seen or informal in added:
                continue
            if is_english(informal):
                dropped += 1
                continue
            seen.add(informal)
            pairs.append(f"{informal}\t{formal}")
    TARGET.write_text("\n".join([HEADER, *pairs, ADDITIONS, *additions]) + "\n", encoding="utf-8")
    print(f"wrote {TARGET}: {len(pairs)} IndoCollex pairs ({dropped} English entries dropped), {len(additions)} additions")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else SOURCE)

"""Recall and precision of the pseudonymisation rules on the hand-made test set
(tests/fixtures/privacy: 46 passages, Indonesian, English and mixed, with planted names,
e-mails, phones, NIK and addresses, and 99 capitalised words that identify no one).

    python bench/privacy.py

Variants: the names file and speaker labels alone; Pilah's rules (used); the rules without
the names file; and the rules plus a naive one that takes every capitalised word inside a
sentence that is not a common word, an institution or a codebook word for a name (what a
rule-only "NER" would do without a trained model).
"""

from __future__ import annotations

import re
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from pipeline.privacy import Found, Pseudonymizer, read_names  # noqa: E402
from pipeline.store import Store  # noqa: E402
from test_privacy import NAMES, measure, passages  # noqa: E402


class ListsOnly(Pseudonymizer):
    NAME_RULES = ()


class EveryCapitalised(Pseudonymizer):
    def find(self, text: str) -> list[Found]:
        found = super().find(text)
        for m in re.finditer(r"(?<=[\w,;] )[A-Z][a-z]+(?: [A-Z][a-z]+)*", text):
            words = self._name_words(m.group())
            if words and not any(f.start < m.end() and m.start() < f.end for f in found):
                found.append(Found(m.start(), m.start() + len(" ".join(words)), "person", " ".join(words)))
        return sorted(found, key=lambda f: f.start)


def main() -> None:
    items = passages()
    exempt = ["Pewawancara", "Interviewer"]
    rows = []
    for label, kind, names in (("names file + speakers only", ListsOnly, read_names(NAMES)),
                               ("Pilah's rules + names file (used)", Pseudonymizer, read_names(NAMES)),
                               ("Pilah's rules, no names file", Pseudonymizer, []),
                               ("rules + every unknown capitalised word", EveryCapitalised, read_names(NAMES))):
        with tempfile.TemporaryDirectory() as folder, Store(folder) as store:
            figures = measure(kind(store, names, exempt_speakers=exempt), items)
        rows.append((label, figures))
    print(f"{len(items)} passages, {rows[0][1]['names']} planted names, {rows[0][1]['keep']} words to keep\n")
    print("| variant | names replaced (recall) | words to keep replaced | e-mail / phone / NIK / address left |")
    print("| --- | ---: | ---: | ---: |")
    for label, f in rows:
        print(f"| {label} | {f['name_recall']:.1%} | {f['keep_replaced']:.1%} | {len(f['left'])} |")
    for label, f in rows:
        print(f"\n{label}: missed {f['missed']}; replaced wrongly {f['lost']}")


if __name__ == "__main__":
    main()

"""Cut the small test fixtures of tests/fixtures/shared from ../shared/data (see its README)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data"
OUT = ROOT / "tests" / "fixtures" / "shared"


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    pd.read_csv(SHARED / "indonlu_hoasa" / "test_preprocess.csv").head(200).to_csv(
        OUT / "hoasa_test_first200.csv", index=False)
    for language in ("indonesian", "english"):
        pd.read_csv(SHARED / "nusax_senti" / language / "test.csv").head(120).to_csv(
            OUT / f"nusax_{language}_test_first120.csv", index=False)
    shutil.copy(SHARED / "indonlu_hoasa" / "LICENSE", OUT / "LICENSE.indonlu")
    shutil.copy(SHARED / "nusax_senti" / "LICENSE", OUT / "LICENSE.nusax")


if __name__ == "__main__":
    main()

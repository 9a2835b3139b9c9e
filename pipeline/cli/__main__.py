"""``python -m pipeline.cli``: the ``pilah`` console script (``pipeline.cli.main``), start-up trims included."""

from pipeline.cli import main

if __name__ == "__main__":
    main()

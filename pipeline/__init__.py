"""Pilah: bilingual (Indonesian + English) code suggestions for qualitative research.

Importing the package changes nothing else in the process: the console script's start-up
trims (spaCy without its command line, thinc without its torch bridge) are in
``pipeline.cli.startup`` and run only in ``pilah`` itself.
"""

__version__ = "0.1.0"

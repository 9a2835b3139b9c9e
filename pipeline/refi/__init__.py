"""Exchange with NVivo, ATLAS.ti, MAXQDA and QualCoder: REFI-QDA 1.5 projects (``.qdpx``) and
codebooks (``.qdc``), both ways.

- :func:`export_qdpx` / :func:`export_qdc` (``pipeline.refi.write``): the project or its
  codebook for another tool;
- :func:`import_file` (``pipeline.refi.read``): another tool's project or codebook into the
  project, with a report of everything not imported and why;
- how direction and factor type are represented: ``pipeline.refi.codebook``;
- offsets as other tools count them: ``pipeline.refi.text``; safety: ``pipeline.refi.archive``.
"""

from pipeline.refi.archive import RefiError
from pipeline.refi.read import ImportReport, import_file
from pipeline.refi.write import SUGGESTION_USER, export_qdc, export_qdpx

__all__ = ["RefiError", "ImportReport", "import_file", "export_qdc", "export_qdpx", "SUGGESTION_USER"]

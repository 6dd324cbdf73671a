"""What a catalog file may hold: every limit of a catalog import, stated in one place.

A catalog file comes from outside (the office's spreadsheet, or a YAML file) and is
treated as hostile: its size, shape, text and numbers are bounded *before* anything
reaches the database, so that a refusal is always a located ``CatalogError`` (never a
traceback, never a database error) and reading it needs bounded memory, alike on
SQLite and PostgreSQL.

File limits (checked by ``tasks.files.catalog_intake`` before and while reading):

- ``MAX_FILE_BYTES``: an XLSX file on disk; ``MAX_YAML_BYTES``: a YAML file (parsed
  YAML costs ~60 bytes of memory and ~1 µs per byte, so it is bounded tighter; 2 MB
  holds about 10,000 entries, far more than any real catalog).
- An XLSX file is a zip archive: at most ``MAX_XLSX_MEMBERS`` members, each
  worksheet and the shared strings at most ``MAX_XLSX_SHEET_BYTES`` uncompressed,
  any other member at most ``MAX_XLSX_PART_BYTES``, all together at most
  ``MAX_XLSX_TOTAL_BYTES`` (zip bombs are refused before openpyxl opens the file).
- At most ``MAX_SHEETS`` sheets in a workbook, ``MAX_ROWS`` rows (or YAML entries)
  per sheet, values in the first ``MAX_COLUMNS`` columns only, ``MAX_CELLS_PER_ROW``
  cells per XML row, ``MAX_CELL_CHARS`` characters per cell and ``MAX_TEXT_CHARS``
  in all cells of a workbook together.
- YAML must be UTF-8 (a byte order mark is allowed) and may not use anchors or
  aliases (``&a`` / ``*a``; they are what alias bombs are made of); both, and a
  section of more than ``MAX_ROWS`` entries, are refused from PyYAML's event stream
  before any document is built.
- XLSX cells holding a formula or an error value are refused: the catalog holds values.

Content limits (``models.catalog.content.check_limits``, run on every parsed catalog
and again before saving):

- text: ``TEXT_LIMITS`` per field, the lengths of the database columns
  (``models.persistence.tables``); list entries (channels, categories, milestones) are bounded
  by ``MAX_LIST_ENTRIES`` and their own lengths; no control characters.
- words that betray an on-site check plan (``models.messages.find_confidential_marker``)
  are refused in every text that can reach a unit's message.
- weight: ``0 < weight <= MAX_WEIGHT`` with at most ``WEIGHT_PLACES`` decimals (the
  column is ``Numeric(12, 2)``: more decimals would be rounded on PostgreSQL and kept
  on SQLite, and every re-import would report a change).
- target, baseline and plan values: finite, ``|value| < MAX_VALUE`` with at most
  ``VALUE_PLACES`` decimals (the column is ``Numeric(20, 6)``).
"""

from __future__ import annotations

from decimal import Decimal

MB = 1024 * 1024
MAX_FILE_BYTES = 20 * MB
MAX_YAML_BYTES = 2 * MB
MAX_XLSX_MEMBERS = 500
MAX_XLSX_SHEET_BYTES = 20 * MB
MAX_XLSX_PART_BYTES = 4 * MB
MAX_XLSX_TOTAL_BYTES = 60 * MB
MAX_SHEETS = 20
MAX_ROWS = 10_000
MAX_COLUMNS = 40
MAX_CELLS_PER_ROW = 16_384
MAX_YAML_EVENTS = 2_000_000
MAX_CELL_CHARS = 20_000
"""Any one cell or YAML value; longer ones are refused before they are parsed."""
MAX_TEXT_CHARS = 10_000_000
"""All text cells of an XLSX file together (one shared string can fill many cells)."""
MAX_REPORTED_PROBLEMS = 200
"""A refusal lists at most this many problems (``CatalogError.problems`` keeps all)."""
MAX_ECHO_CHARS = 300
"""A problem's message is cut to this many characters when printed."""

TEXT_LIMITS: dict[str, dict[str, int]] = {
    "years": {"name": 200},
    "units": {"code": 64, "name": 200, "kind": 20, "category": 40},
    "items": {
        "code": 64,
        "name": 200,
        "status": 20,
        "decided_by": 200,
        "document_ref": 200,
        "note": 500,
    },
    "indicators": {
        "code": 64,
        "item": 64,
        "name": 200,
        "direction": 20,
        "unit_of_measure": 40,
        "source_field": 120,
        "lifecycle": 20,
        "reason": 200,
        "merged_into": 64,
        "adapted_from": 64,
    },
}
"""Maximum characters per text field: the ``max_length`` of its database column."""

MAX_LIST_ENTRIES = 50
MAX_CHANNEL_CHARS = 300
MAX_CATEGORY_CHARS = 40
MAX_MILESTONE_CHARS = 200
MAX_RULE_CHARS = 2000

MAX_WEIGHT = Decimal(1000)
WEIGHT_PLACES = 2
MAX_VALUE = Decimal(10) ** 14
VALUE_PLACES = 6

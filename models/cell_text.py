"""Text in spreadsheet cells: neutralising formula-like text and restoring it.

A spreadsheet program may run text that starts with ``= + - @`` (or a tab or a
carriage return) as a formula when the cell is edited or the file is converted
(OWASP "CSV injection"). Every workbook the project writes (``tasks.files.workbook``)
prefixes such text with a single quote; a reader of the project's own files
(the catalog importer) removes that one quote again, so an export re-imports
unchanged. Full-width ``＝ ＋ － ＠`` are ordinary Chinese punctuation that no
spreadsheet evaluates: they are left as they are (escaping them would show a stray
quote to the office and break the importer's round trip).

The two functions are exact inverses: ``unescape_cell_text(escape_cell_text(s)) == s``
for every string ``s``, including text that already starts with quotes.

Pure: no I/O.
"""

from __future__ import annotations

QUOTE = "'"
FORMULA_STARTS = frozenset("=+-@\t\r")


def _formula_after_quotes(text: str) -> bool:
    rest = text.lstrip(QUOTE)
    return bool(rest) and rest[0] in FORMULA_STARTS


def escape_cell_text(text: str) -> str:
    """``text`` as it is written to a cell: one more leading quote if it could be a formula.

    Text that is quotes followed by a formula start (``'=x``) gets one more quote too,
    so that ``unescape_cell_text`` can tell an escape from a quote that was typed.
    """
    return QUOTE + text if _formula_after_quotes(text) else text


def unescape_cell_text(text: str) -> str:
    """The text a cell written by ``escape_cell_text`` held: one leading quote removed
    when quotes are followed by a formula start; anything else unchanged."""
    return text[1:] if text.startswith(QUOTE) and _formula_after_quotes(text) else text


def is_formula_like(text: str) -> bool:
    """Whether ``text`` starts with a character a spreadsheet may read as a formula."""
    return bool(text) and text[0] in FORMULA_STARTS

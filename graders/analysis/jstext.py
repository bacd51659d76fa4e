"""TypeScript/JavaScript text read without a parser: what a scan of its brackets must skip."""

from __future__ import annotations

# A comment or a string literal (a template literal whole, its ``${...}`` included: they balance).
# Compile with re.S, so that a block comment or a template literal may span lines.
COMMENT_OR_STRING = r"//[^\n]*|/\*.*?\*/|'(?:\\.|[^'\\\n])*'|\"(?:\\.|[^\"\\\n])*\"|`(?:\\.|[^`\\])*`"

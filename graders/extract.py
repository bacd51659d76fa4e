"""Turn an answer's markdown into the files it describes.

Blocks are found with a CommonMark parser (markdown-it-py), so backtick and tilde fences of
any length, nested fences, fences in lists and blockquotes and unterminated fences behave as
a markdown renderer shows them. Nothing here raises on garbage input.

Naming rules, most reliable first (the first that yields a usable path wins):

1. info string: ```` ```python:lib/x.py ````, ``title="lib/x.py"``, ``{file=lib/x.py}`` or
   ``[lib/x.py]`` ("info-string").
2. a label since the previous block: an HTML comment ``<!-- app.py -->`` ("comment"),
   a bold line (``**app.py**``, ``**File:** `x.py` ``) ("bold"), or the section heading
   (``## File: lib/tap_stack.py``, ``## 1. Stack (`main.py`)``, an HTML ``<summary>`` or
   ``<h3>``) ("heading"). Labels are what a reader sees above the block, written to name it.
3. a first-line comment in the block that is only a path (``# app.py``, ``# File: x.py``,
   ``// cdk.json``, a banner ``# ---- x.py ----``) or a path and what it is (``# app.py -
   entry point``, only in a python block that parses) ("comment"); or a first line that is
   only a file of the block's language, with no ``#`` (``lib/x.py``), which is then left out
   of the file ("comment"). Explicit, but sometimes a stale copy, so below labels. A fence
   holding nothing but such a name labels the block after it ("comment").
4. the paragraph just before the block, its last line (``Create `lambda/handler.py`:``)
   ("sentence"): prose often mentions other files, so only a path whose type fits the
   block counts, and a path followed by ``:24`` (a line reference) never does.
5. a docstring that starts with a path (``\"\"\"tap_stack.py``) ("docstring"): often copied
   from a template, so weakest. When a weaker source gives the same file with more folders
   (heading ``tap_stack.py``, comment ``lib/tap_stack.py``) the longer path is kept.

Only things that look like files count: a known extension (.py .json .txt .ts .js .yaml ...)
or a known name (Dockerfile, Makefile, requirements.txt ...); after ``File:``/``Path:`` any
name does. A path must also fit the block: a python block is not ``cdk.json``, a shell block
is only a ``.sh`` file; and a code block given a name of its own language anywhere takes it
before a name of another known type (``## Pin requirements.txt and update app.py`` over a
python block is ``app.py``).

Blocks that are not files are skipped and recorded: shell commands, directory trees,
unnamed non-python blocks (except a JSON object with an ``app`` key, which is ``cdk.json``)
and python fragments (no top-level import, def or class). Other unnamed python blocks are
named by what they contain (never replacing a file the answer names):
an ``App()`` that calls ``synth()`` is the entry (``tap.py`` when the answer mentions tap.py,
else ``app.py``); a ``Stack``/``Construct`` subclass is ``lib/tap_stack.py`` for
``TapStack``, else ``lib/<snake_case_class>.py``; a Lambda handler is ``lambda/index.py``
(``def handler``) or ``lambda/lambda_function.py`` (``def lambda_handler``). Anything else
is skipped as ``unnamed``. An unnamed yaml or json block (or an untagged one) that reads as a
CloudFormation template (``AWSTemplateFormatVersion``, or a top-level ``Resources`` with ``AWS::``
types) is ``template.yaml`` / ``template.json``, then ``template-2.yaml`` and so on in order; an
answer with no usable block whose text holds a template from a top-level section on is that
template (up to the next fence line).

When two blocks give one path the later wins and lists the earlier fence lines in
``overrides``; a fragment never replaces a fuller file. A python block that holds several
files separated by lines naming them (``infrastructure/vpc_stack.py``,
``# lib/x.py`` or ``# ---- lib/x.py ----`` on a line of its own, prose lines between them) is split there when the
pieces parse better than the whole. A fence with no language that holds a heading and
another opening fence is the trace of a mis-paired fence earlier on; its content is read
again as markdown. So is a markdown (or language-less) block that nothing names and that holds
a file label over a fence: the whole answer wrapped in one outer ```` ````markdown ```` fence.
A markdown block the answer names as a document (``lib/MODEL_RESPONSE.md``, ``README.md``) that
shows fenced blocks with its own fence runs to the fence that balances them: its templates and
examples are the document's content, not the answer's files.
A ``#`` line inside a markdown block is a heading, never a comment naming the block.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from iacgrade.graders.analysis.jstext import COMMENT_OR_STRING
from iacgrade.graders.analysis.pyast import parse_module
from iacgrade.graders.models import ExtractedFile, Extraction, SkippedBlock

if TYPE_CHECKING:
    from markdown_it import MarkdownIt
    from markdown_it.token import Token

__all__ = ["extract_files", "safe_relpath", "template_format"]

# --- what a path looks like ----------------------------------------------------------------

_EXT_LANG = {
    "py": "python",
    "pyi": "python",
    "json": "json",
    "yaml": "yaml",
    "yml": "yaml",
    "ts": "typescript",
    "tsx": "typescript",
    "js": "javascript",
    "jsx": "javascript",
    "mjs": "javascript",
    "sh": "bash",
    "bash": "bash",
    "md": "markdown",
    "txt": "text",
    "toml": "toml",
    "cfg": "ini",
    "ini": "ini",
    "sql": "sql",
}
_KNOWN_NAMES = {
    "Dockerfile": "dockerfile",
    "Makefile": "makefile",
    "Pipfile": "toml",
    "Procfile": "text",
    ".gitignore": "text",
    ".dockerignore": "text",
    ".npmignore": "text",
}
# Product names that end like a file ("Node.js"), never files in these answers.
_NOT_FILES = frozenset(
    {"node.js", "next.js", "vue.js", "react.js", "express.js", "chart.js", "d3.js", "nuxt.js"}
)
_EXTS = "|".join(sorted(_EXT_LANG, key=len, reverse=True))
_NAMES = "|".join(re.escape(n) for n in _KNOWN_NAMES)
_PATH_RE = re.compile(
    rf"(?<![\w./\\~-])((?:[A-Za-z]:)?[\w./\\~-]{{0,240}}?[\w-]\.(?:{_EXTS})|(?:[\w./\\~-]{{0,240}}[/\\])?(?:{_NAMES}))(?![\w/\\-])"
)
_LABELLED_RE = re.compile(
    r"\b(?:file\s*name|filename|file|path)\s*[:=][\s`*'\"]*([^\s`*'\"<>]+)", re.IGNORECASE
)
_URL_RE = re.compile(r"\w+://\S+")
_LINE_REF_RE = re.compile(r"`?(?::\d|#L\d|,?\s+(?:lines?|L)\s*\d)", re.IGNORECASE)
_MAX_PATH = 255
_MAX_PART = 120
_MAX_PARTS = 24
_MAX_LABEL = 600

# --- languages -----------------------------------------------------------------------------

_LANG_ALIASES = {
    "py": "python",
    "python3": "python",
    "python": "python",
    "py3": "python",
    "sh": "bash",
    "shell": "bash",
    "bash": "bash",
    "zsh": "bash",
    "console": "bash",
    "shell-session": "bash",
    "shellsession": "bash",
    "powershell": "bash",
    "cmd": "bash",
    "json": "json",
    "jsonc": "json",
    "json5": "json",
    "yaml": "yaml",
    "yml": "yaml",
    "js": "javascript",
    "javascript": "javascript",
    "ts": "typescript",
    "typescript": "typescript",
    "txt": "text",
    "text": "text",
    "plaintext": "text",
    "plain": "text",
    "output": "text",
    "md": "markdown",
    "markdown": "markdown",
    "toml": "toml",
    "ini": "ini",
    "cfg": "ini",
    "dockerfile": "dockerfile",
    "docker": "dockerfile",
    "makefile": "makefile",
    "sql": "sql",
}
_CODE_LANGS = frozenset({"python", "json", "yaml", "typescript", "javascript", "bash"})
_SHELL_WORDS = frozenset(
    "cdk pip pip3 npm npx aws python python3 export cd mkdir git source pipenv curl docker brew "
    "sudo poetry yarn make chmod echo pytest cat ls rm cp mv touch virtualenv uv wget apt apt-get "
    "set unset node tsc terraform sam".split()
)
_PY_SIGNAL = re.compile(
    r"^(?:from\s+[\w.]+\s+import\b|import\s+[\w.]+|def\s+\w+\s*\(|class\s+\w+\s*[(:]|@\w+)", re.M
)
_TOP_IMPORT = re.compile(r"^(?:from\s+[\w.]+\s+import\b|import\s+\w)", re.M)
_TOP_DEF = re.compile(r"^(?:async\s+)?(?:def|class)\s+\w+", re.M)
_CLASS_RE = re.compile(r"^class\s+(\w+)\s*\(([^)]*)\)", re.M)
_APP_RE = re.compile(r"\bApp\s*\(")
_SYNTH_RE = re.compile(r"\.synth\s*\(")
_TREE_RE = re.compile(r"[├└│]──|^\s*│", re.M)
# What a program printed: a test run's summary or coverage table, cdk's synth/deploy output, a traceback.
_OUTPUT_RE = re.compile(
    r"^=+ .*\b(?:passed|failed|errors?)\b.* =+$|^-+ coverage: |^Name\s+Stmts\s+Miss|"
    r"^(?:Outputs|Stack ARN):\s*$|✨|Synthesis time:|^Traceback \(most recent call last\):",
    re.M,
)
_PROSE_RE = re.compile(r"^(?:\d+[.)]\s+|[-*]\s+|#+\s+)?[A-Za-z][\w ,'’()/.:`&-]*$")
_PY_KEYWORDS = frozenset(
    "False None True and as assert async await break class continue def del elif else except finally "
    "for from global if import in is lambda nonlocal not or pass raise return try while with yield".split()
)


@functools.cache
def _markdown() -> MarkdownIt:
    """The CommonMark parser, made on the first extraction (a run whose answers all come from
    the cache, or a module that only wants ``safe_relpath``, never loads markdown-it)."""
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark")


_MAX_REPARSE_DEPTH = 3
# Each never-closed fence re-reads the rest of the answer one level deeper.
_MAX_CUT_DEPTH = 64
# A heading far above a block (a long list between them) titles a section, not the block.
_MAX_LABEL_AGE = 2


def safe_relpath(raw: object) -> str | None:
    """Return ``raw`` as a safe relative posix path, or None when it cannot be made one.

    Quotes, backticks, ``./``, a leading ``/``, ``~/`` and a drive letter are removed and
    backslashes become slashes; ``..`` parts, NUL or control characters, ``:*?<>|"``,
    over-long names and paths that end up empty are refused.
    """
    return _clean_path(raw)[0]


def extract_files(markdown: str) -> Extraction:
    """Extract the files an answer's markdown describes (see the module docstring for rules)."""
    result = Extraction()
    if not isinstance(markdown, str):
        result.notes.append("input is not text")
        return result
    blocks = _find_blocks(markdown, 0, 0, result) or _bare_python(markdown, result)
    mentions_tap = "tap.py" in markdown
    entries: list[_Entry] = []
    for block in blocks:
        entries.extend(_entries_for(block, result))
    if not entries:
        for block in _bare_template(markdown, result):
            entries.extend(_entries_for(block, result))
    entries = _join_parts(entries, result)
    _name_defaults(entries, mentions_tap, result)
    _number_templates(entries)
    result.files = _resolve(entries, result)
    return result


# --- finding blocks --------------------------------------------------------------------------


@dataclass
class _Label:
    kind: str  # heading | bold | comment | sentence
    text: str
    age: int = 0  # paragraphs between the label and the block


@dataclass
class _Block:
    line: int  # 1-based markdown line of the opening fence
    info: str
    content: str
    closed: bool
    labels: list[_Label] = field(default_factory=list)
    sentence: str = ""
    lead: str = ""  # a bare file name that was the block's first line, taken out of ``content``


def _find_blocks(markdown: str, offset: int, depth: int, result: Extraction) -> list[_Block]:
    """Fenced blocks with the labels above them; ``offset`` shifts lines of re-read content."""
    try:
        tokens = _markdown().parse(markdown)
    except (RecursionError, MemoryError, ValueError) as exc:
        result.notes.append(f"markdown could not be parsed ({type(exc).__name__}); no files extracted")
        return []
    lines = markdown.split("\n")
    blocks: list[_Block] = []
    labels: list[_Label] = []
    last: _Label | None = None
    for i, tok in enumerate(tokens):
        if tok.type == "heading_open":
            labels = [_Label("heading", _inline_text(tokens, i))]
            last = None
        elif tok.type == "paragraph_open":
            for label in labels:
                label.age += 1
            last = _paragraph_label(tokens, i)
            if last.kind == "bold":
                labels.append(last)
        elif tok.type == "html_block":
            last = _html_label(tok.content)
            if last:
                labels.append(last)
        elif tok.type == "code_block" and tok.map:
            result.skipped.append(
                SkippedBlock(line=tok.map[0] + 1 + offset, language="text", reason="indented code block")
            )
        elif tok.type == "fence" and tok.map:
            line = tok.map[0] + 1 + offset
            near = [lb for lb in labels if lb.age <= _MAX_LABEL_AGE]
            block = _Block(line, tok.info.strip(), tok.content, _is_closed(lines, tok), near, _sentence(last))
            end = _document_end(lines, tok, block) if depth < _MAX_CUT_DEPTH else None
            if end is not None:
                result.notes.append(
                    f"markdown document at line {line} shows fenced blocks of its own: read whole"
                    f" to line {end + 1 + offset} (its code blocks are its content, not files)"
                )
                block.content = "\n".join(lines[tok.map[0] + 1 : end]) + "\n"
                blocks.append(block)
                blocks.extend(_find_blocks("\n".join(lines[end + 1 :]), offset + end + 1, depth + 1, result))
                break
            cut = _unclosed_cut(block, tok.markup) if depth < _MAX_CUT_DEPTH else None
            if depth < _MAX_REPARSE_DEPTH and cut is None and _mispaired(block, tok):
                result.notes.append(
                    f"block at line {line} holds a heading and an opening fence: read as markdown (mis-paired fence)"
                )
                blocks.extend(_find_blocks(block.content, line, depth + 1, result))
            elif depth < _MAX_REPARSE_DEPTH and cut is None and _wrapped_answer(block):
                result.notes.append(
                    f"unnamed markdown block at line {line} holds labelled code blocks: read as the answer"
                )
                blocks.extend(_find_blocks(block.content, line, depth + 1, result))
            elif cut is not None:
                result.notes.append(
                    f"block at line {line} runs into the next file's label or fence at line {line + cut + 1}"
                    " (its fence was never closed): the rest is read as markdown"
                )
                rest = block.content.split("\n")
                block.content = "\n".join(rest[:cut]) + "\n"
                if block.content.strip():
                    blocks.append(block)
                blocks.extend(_find_blocks("\n".join(rest[cut:]), line + cut, depth + 1, result))
            else:
                if not block.closed:
                    result.notes.append(
                        f"fence at line {line} is never closed; it runs to the end of the document"
                    )
                blocks.append(block)
            name = _name_only(block.content)
            labels, last = ([_Label("comment", name)] if name else []), None
    return blocks


_HTML_TITLE = re.compile(r"<(summary|h[1-6])\b[^>]*>(.*?)</\1\s*>", re.IGNORECASE | re.DOTALL)


def _html_label(html: str) -> _Label | None:
    """``<!-- app.py -->`` is a comment label; ``<summary>lib/x.py</summary>`` (a ``<details>``
    section) or ``<h3>lib/x.py</h3>`` is a heading label."""
    if html.lstrip().startswith("<!--"):
        return _Label("comment", html[: 4 * _MAX_LABEL])
    titles = _HTML_TITLE.findall(html[: 4 * _MAX_LABEL])
    if not titles:
        return None
    return _Label("heading", re.sub(r"<[^>]*>", "", titles[-1][1])[:_MAX_LABEL])


def _bare_python(markdown: str, result: Extraction) -> list[_Block]:
    """An answer with no fences at all whose text starts with python imports is one block."""
    head = markdown.lstrip()[:200]
    if not _TOP_IMPORT.match(head):
        return []
    result.notes.append("no fenced blocks; the whole answer reads as python code")
    return [_Block(line=0, info="python", content=markdown, closed=True)]


def _inline_text(tokens: list[Token], i: int) -> str:
    nxt = tokens[i + 1] if i + 1 < len(tokens) else None
    return nxt.content[:_MAX_LABEL] if nxt is not None and nxt.type == "inline" else ""


def _paragraph_label(tokens: list[Token], i: int) -> _Label:
    """A paragraph led by bold text naming a file is a label; any other is a sentence."""
    inline = tokens[i + 1] if i + 1 < len(tokens) else None
    if inline is None or inline.type != "inline":
        return _Label("sentence", "")
    children = inline.children or []
    if children and children[0].type == "text" and not children[0].content.strip():
        children = children[1:]
    if children and children[0].type == "strong_open":
        strong = []
        for child in children[1:]:
            if child.type == "strong_close":
                break
            strong.append(child.content)
        strong_text = "".join(strong)
        if _paths_in(strong_text) or re.fullmatch(
            r"\s*(file\s*name|filename|file|path|location)\s*:?\s*", strong_text, re.I
        ):
            return _Label("bold", inline.content[:_MAX_LABEL])
    return _Label("sentence", inline.content)


def _sentence(last: _Label | None) -> str:
    """The last line of the paragraph right before a block: where "Create `x.py`:" sits."""
    if last is None or last.kind != "sentence":
        return ""
    return last.text.rstrip().rsplit("\n", 1)[-1][-_MAX_LABEL:]


def _is_closed(lines: list[str], tok: Token) -> bool:
    start, end = tok.map or (0, 0)
    if end - start < 2 or end - 1 >= len(lines):
        return False
    last = lines[end - 1].lstrip(" \t>")
    char = tok.markup[:1] or "`"
    stripped = last.rstrip()
    return len(stripped) >= len(tok.markup) and stripped == char * len(stripped)


_LABEL_LINE = re.compile(r"^ {0,3}(?:#{1,6}\s|\*\*|<!--)(.*)$")
_OPEN_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")


def _unclosed_cut(block: _Block, markup: str) -> int | None:
    """Line index of a file label followed by an opening fence inside a block, if any.

    An answer that never closes its fences puts the next ``## File: x.py`` and its opening
    ```` ```python ```` inside the previous block; no code file holds such a pair. A block that
    is closed had its end taken from the next file's closing fence, so the inner fence is of
    the outer kind (same character, at least as long). A shorter or other inner fence in a
    closed block (```` ```` ```` around ```` ``` ````, ``~~~`` around backticks) is nested on
    purpose: a README showing an example, which is kept whole.
    """
    for i, fence in _labels_over_fences(block.content):
        if not block.closed or (fence[0] == markup[:1] and len(fence) >= len(markup)):
            return i
    return _code_fence_inside(block, markup)


_CODE_OPEN = re.compile(r"^ {0,3}(`{3,}|~{3,})[ \t]*([A-Za-z][\w+#-]*)[ \t]*$")


def _code_fence_inside(block: _Block, markup: str) -> int | None:
    """Line index of an opening fence of a code language inside a code block of the same fence.

    A model that never closes a ```` ```typescript ```` block in its reasoning and then gives the
    answer in a fresh ```` ```typescript ```` block makes one block of both (the fresh fence is
    no closing fence, having a language); no TypeScript, JavaScript or Python file holds such a
    line, so the answer is read again as markdown from there."""
    outer = _language(block.info, "")
    if outer not in (*_NODE_LANGS, "python"):
        return None
    for i, line in enumerate(block.content.split("\n")):
        match = _CODE_OPEN.match(line)
        if match is None or _language(match.group(2), "") not in (*_NODE_LANGS, "python"):
            continue
        # A Python string may hold a fenced example, so a Python block is cut only at a fence of
        # its own kind; no TypeScript or JavaScript line opens a fence (```` ````typescript ````
        # in reasoning, then ```` ```typescript ```` for the answer).
        if outer in _NODE_LANGS or (match.group(1)[0] == markup[:1] and len(match.group(1)) >= len(markup)):
            return i
    return None


def _labels_over_fences(content: str) -> Iterator[tuple[int, str]]:
    """(line index, opening fence) of each line that labels a file (``## File: x.py``) and is
    followed, blank lines aside, by an opening fence."""
    lines = content.split("\n")
    for i, ln in enumerate(lines):
        match = _LABEL_LINE.match(ln)
        if match is None or not _paths_in(match.group(1)):
            continue
        j = i + 1
        while j < len(lines) and not lines[j].strip():
            j += 1
        inner = _OPEN_FENCE.match(lines[j]) if j < len(lines) else None
        if inner is not None:
            yield i, inner.group(1)


_BARE_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})[ \t]*$")


def _document_end(lines: list[str], tok: Token, block: _Block) -> int | None:
    """Line index of the fence that closes a markdown document the answer names, when the
    document shows fenced blocks of its own with the outer fence.

    An answer that gives its folder's ``lib/MODEL_RESPONSE.md`` or ``README.md`` in a
    ```` ```markdown ```` block closes that block, to a markdown reader, at the first bare fence
    inside it: the end of the document's own first code block. The rest of the document (its
    templates, its code) would then read as the answer's files. A fence with a language never
    closes a block, so inside a document named as one such a line opens a nested block: the
    document ends at the bare fence that balances them; a bare fence in the document's own text
    opens an inner block unless a new section (heading, label, rule, fence) or the end follows
    it. None when the document holds no such nesting or never balances, and the markdown
    reader's end stands."""
    if _language(block.info, "") != "markdown" or not tok.map:
        return None
    named = [
        p for p in (_info_path(block.info), *(q for lb in block.labels for q in _paths_in(lb.text))) if p
    ]
    if not named or not all(p.lower().endswith((".md", ".markdown")) for p in named):
        return None
    fence = tok.markup
    depth, nested = 1, False
    for j in range(tok.map[0] + 1, len(lines)):
        opening = _CODE_OPEN.match(lines[j])
        if opening is not None and opening.group(1)[0] == fence[0]:
            depth, nested = depth + 1, True
            continue
        bare = _BARE_FENCE.match(lines[j])
        if bare is None or bare.group(1)[0] != fence[0] or len(bare.group(1)) < len(fence):
            continue
        if depth == 1 and not _section_ends(lines, j + 1):
            depth, nested = 2, True  # an inner block opened with a bare fence: text follows it
            continue
        depth -= 1
        if depth == 0:
            return j if nested and j > tok.map[1] - 1 else None
    return None


_RULE_LINE = re.compile(r"^ {0,3}(?:-{3,}|\*{3,}|_{3,})\s*$")


def _section_ends(lines: list[str], start: int) -> bool:
    """Whether the first non-blank line from ``start`` begins a new section (a heading, a label,
    a rule or a fence) or there is none: what follows a document's closing fence."""
    for line in lines[start:]:
        if line.strip():
            return any(p.match(line) for p in (_LABEL_LINE, _RULE_LINE, _OPEN_FENCE))
    return True


def _wrapped_answer(block: _Block) -> bool:
    """A markdown or language-less block nothing names that holds a file label over a fence:
    the whole answer wrapped in one outer ```` ````markdown ```` fence, not a README (a label
    names that one)."""
    if block.info and _language(block.info, "") != "markdown":
        return False
    if _info_path(block.info) or _paths_in(block.sentence):
        return False
    if any(_paths_in(label.text) for label in block.labels):
        return False
    return next(_labels_over_fences(block.content), None) is not None


def _mispaired(block: _Block, tok: Token) -> bool:
    """An info-less ``` block holding a heading line and an opening fence with a language."""
    if block.info or tok.markup != "```":
        return False
    text = block.content
    label = re.search(r"^ {0,3}(?:#{1,6}\s|\*\*|<!--)(.*)$", text, re.M)
    if label is None:
        return False
    if re.search(r"^ {0,3}(?:```|~~~)[ \t]*[A-Za-z]", text, re.M):
        return True
    # a label naming a file, then a bare fence: "## File: .gitignore" + "```"
    return bool(_paths_in(label.group(1))) and bool(
        re.search(r"^ {0,3}(?:```|~~~)", text[label.end() :], re.M)
    )


# --- paths ----------------------------------------------------------------------------------


def _clean_path(raw: object) -> tuple[str | None, str | None]:
    """(safe path or None, note when it was rewritten or refused)."""
    if not isinstance(raw, str):
        return None, None
    text = raw.strip().strip("`'\"*").strip()
    original = text
    if not text or len(text) > 4 * _MAX_PATH:
        return None, "path refused (empty or too long)" if text else None
    if any(ord(c) < 32 or c == "\x7f" for c in text):
        return None, f"path refused (control character): {text[:60]!r}"
    text = text.replace("\\", "/")
    if re.match(r"^[A-Za-z]:", text):
        text = text[2:]
    while text.startswith(("/", "~/", "./")):
        text = text[1:] if text[0] == "/" else text[2:]
    if re.search(r'[:*?<>|"]', text):
        return None, f"path refused (reserved character): {original[:60]!r}"
    parts = [p for p in text.split("/") if p not in ("", ".")]
    if any(p == ".." for p in parts):
        return None, f"path refused (parent folder '..'): {original[:60]!r}"
    if not parts or len(parts) > _MAX_PARTS or any(len(p.encode()) > _MAX_PART for p in parts):
        return None, f"path refused (empty or too long): {original[:60]!r}"
    clean = "/".join(parts)
    if len(clean) > _MAX_PATH:
        return None, f"path refused (too long): {original[:60]!r}"
    note = None if clean == original else f"path {original[:60]!r} rewritten as {clean!r}"
    return clean, note


def _looks_like_file(path: str) -> bool:
    name = path.rsplit("/", 1)[-1]
    if name.lower() in _NOT_FILES:
        return False
    return name in _KNOWN_NAMES or "." in name and name.rsplit(".", 1)[1].lower() in _EXT_LANG


def _paths_in(text: str, *, labelled: bool = True) -> list[str]:
    """Raw path-looking strings in prose, in order, without line references like ``x.py:24``.

    With ``labelled``, a name after ``File:``/``Path:`` counts whatever its extension.
    """
    text = _URL_RE.sub(" ", text[: 4 * _MAX_LABEL])
    found = [w for m in _LABELLED_RE.finditer(text) if (w := _labelled_word(m.group(1)))] if labelled else []
    for match in _PATH_RE.finditer(text):
        if _LINE_REF_RE.match(text, match.end()):
            continue  # "tap_stack.py:24-42" or "x.py lines 27-39" points into a file, it does not name a block
        if _looks_like_file(match.group(1).replace("\\", "/")):
            found.append(match.group(1))
    return found


def _labelled_word(word: str) -> str | None:
    """The word after ``File:``, as a path, when it can be one.

    Sentence punctuation is not part of it (``lib/tap_stack.py.``), and a bare word with no
    folder, extension or leading dot is prose (``File: Main Stack``, ``File: the stack in x.py``),
    unless it is a known file name such as ``Dockerfile``.
    """
    word = word.rstrip(".,;:!?)]}")
    if word in _KNOWN_NAMES or "/" in word or "\\" in word or word.startswith("."):
        return word or None
    stem, dot, ext = word.rpartition(".")
    return word if dot and stem and ext.isalnum() else None


def _path_language(path: str) -> str | None:
    name = path.rsplit("/", 1)[-1]
    if name in _KNOWN_NAMES:
        return _KNOWN_NAMES[name]
    if "." in name:
        return _EXT_LANG.get(name.rsplit(".", 1)[1].lower())
    return None


def _fits(path: str, language: str) -> bool:
    """Whether a block in ``language`` can be the file ``path``."""
    path_lang = _path_language(path)
    if language == "bash":
        return path_lang == "bash"
    if path_lang in _CODE_LANGS and language in _CODE_LANGS:
        return path_lang == language or {path_lang, language} <= {"javascript", "typescript"}
    return True


# --- naming one block ------------------------------------------------------------------------


@dataclass
class _Entry:
    """A file candidate: a block, or a piece of a split block."""

    file: ExtractedFile
    named: bool
    fragment: bool
    content: str


def _language(info: str, content: str) -> str:
    word = re.split(r"[\s:{,]", info, maxsplit=1)[0].lower() if info else ""
    return _LANG_ALIASES.get(word) or (word if word else _infer_language(content))


def _infer_language(content: str) -> str:
    stripped = content.strip()
    if not stripped:
        return "text"
    if _TREE_RE.search(stripped):
        return "text"
    if stripped[0] in "{[" and _loads_json(stripped) is not None:
        return "json"
    template = template_format(stripped)
    if template:
        return template
    if _PY_SIGNAL.search(stripped):
        return "python"
    if _looks_like_shell(stripped):
        return "bash"
    lines = [ln for ln in stripped.split("\n") if ln.strip() and not ln.lstrip().startswith("#")]
    if len(lines) >= 2 and all(re.match(r"^\s*(?:- )?[\w.\"'-]+:(?:\s|$)|^\s*- ", ln) for ln in lines):
        return "yaml"
    return "text"


# A CloudFormation template: its format version, or a top-level Resources section with AWS:: types.
_CFN_VERSION = re.compile(r"^(?:AWSTemplateFormatVersion\s*:|\s*\"AWSTemplateFormatVersion\"\s*:)", re.M)
_CFN_RESOURCES = re.compile(r"^(?:Resources\s*:\s*(?:#.*)?$|\s*\"Resources\"\s*:\s*\{)", re.M)
_CFN_TYPE = re.compile(r"\bAWS::\w+::\w+")
_TEMPLATE_KEYS = re.compile(
    r"^(?:AWSTemplateFormatVersion|Description|Transform|Parameters|Metadata|Mappings|Conditions|Rules|Resources)"
    r"\s*:(?:\s|$)"
)


def template_format(content: str) -> str | None:
    """``"yaml"`` or ``"json"`` when ``content`` reads as a CloudFormation template, else None."""
    if not (_CFN_VERSION.search(content) or _CFN_RESOURCES.search(content)) or not _CFN_TYPE.search(content):
        return None
    return "json" if content.lstrip().startswith("{") else "yaml"


def _bare_template(markdown: str, result: Extraction) -> list[_Block]:
    """An answer with no usable blocks whose text holds a template from a top-level key on is that template.

    The template runs from its first top-level section (``AWSTemplateFormatVersion:``,
    ``Resources:``, ...) or opening ``{`` to the next fence line or the end of the answer.
    """
    lines = markdown.split("\n")
    start = next(
        (i for i, ln in enumerate(lines) if _TEMPLATE_KEYS.match(ln) or ln.rstrip() == "{"),
        None,
    )
    if start is None:
        return []
    end = next((i for i in range(start + 1, len(lines)) if lines[i].lstrip().startswith("```")), len(lines))
    content = "\n".join(lines[start:end]) + "\n"
    language = template_format(content)
    if language is None:
        return []
    result.notes.append(
        f"no fenced template; the answer's text from line {start + 1} reads as a {language} template"
    )
    return [_Block(line=start, info=language, content=content, closed=True)]


def _loads_json(text: str) -> object | None:
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return None


def _is_cdk_json(text: str) -> bool:
    data = _loads_json(text)
    return isinstance(data, dict) and isinstance(data.get("app"), str)


def _looks_like_shell(text: str) -> bool:
    commands = [ln.strip() for ln in text.split("\n") if ln.strip() and not ln.strip().startswith("#")]
    if not commands:
        return False
    hits = sum(1 for ln in commands if ln.startswith("$ ") or ln.split()[0] in _SHELL_WORDS)
    return hits >= max(1, (len(commands) + 1) // 2)


def _info_path(info: str) -> str | None:
    """``python:lib/x.py``, ``python title="x.py"``, ``py file=x.py``, ``python {file=x.py}``,
    ``python file: x.py``, ``python lib/x.py`` or ``python [lib/x.py]``."""
    match = re.search(r"\b(?:title|file|filename|path|name)\s*([=:])\s*[\"']?([^\"'\s{}\[\],]+)", info)
    if match and (match.group(1) == "=" or _looks_like_file(match.group(2).replace("\\", "/"))):
        return match.group(2)
    match = re.match(r"^[\w+-]*[:\s]+\[?([^\s{}\[\]]+)", info)
    if match and _looks_like_file(match.group(1).replace("\\", "/")):
        return match.group(1)
    return None


# A banner around a name: ``# ---- lib/x.py ----``, ``# ===== File: x.py =====``.
_DECOR = r"(?:[-=*~#]{2,}\s*)?"
_DECOR_END = r"(?:\s*[-=*~#]{2,})?"
_COMMENT_MARK = re.compile(
    rf"^\s*(?:#+|//|--|<!--)\s*{_DECOR}(?:(?:file\s*name|filename|file|path)\s*:\s*)?[`'\"]?([^\s`'\"]+?)[`'\"]?"
    rf"\s*:?{_DECOR_END}\s*(?:-->)?\s*$",
    re.IGNORECASE,
)
# A first line naming its file, then saying what it is: ``# app.py - entry point``,
# ``# lib/x.py: the stack``, ``# lib/x.py (updated)``.
_COMMENT_MARK_DESC = re.compile(
    r"^\s*(?:#+|//|--)\s*(?:(?:file\s*name|filename|file|path)\s*:\s*)?[`'\"]?([^\s`'\"]+?)[`'\"]?"
    r"(?::\s+|\s+[-\u2013\u2014]+\s+|\s+\()\S",
    re.IGNORECASE,
)
_CODING_RE = re.compile(r"^#.*coding[:=]")
_DOC_MARK = re.compile(r"^\s*[rRuU]?(?:\"\"\"|''')\s*([^\s\"']+?)\s*(?:$|[-:—]\s|\"\"\"|''')")


def _in_block_marks(content: str, language: str) -> tuple[str | None, str | None]:
    """(path from a first-line comment, path from a leading docstring).

    A comment that goes on to describe the file (``# app.py - entry point``) names a python
    block only when the block parses: a sketch (``# x.py - full version in the repo``) whose
    code does not parse is a summary, not the file.
    """
    lines = [ln for ln in content.split("\n", 8)[:8] if ln.strip()]
    lines = [ln for ln in lines if not ln.startswith("#!") and not _CODING_RE.match(ln)][:3]
    comment = doc = None
    for i, ln in enumerate(lines):
        match = _COMMENT_MARK.match(ln)
        if match is None and comment is None and (match := _COMMENT_MARK_DESC.match(ln)):
            if language == "python" and not _parses(content):
                match = None
        if match and language == "markdown" and not ln.lstrip().startswith("<!--"):
            match = None  # "# x.py" in markdown is a heading, not a comment naming the block
        if match and comment is None and _looks_like_file(match.group(1)):
            comment = match.group(1)
        match = _DOC_MARK.match(ln)
        if match and doc is None and _looks_like_file(match.group(1)):
            doc = match.group(1)
        elif re.fullmatch(r"\s*[rRuU]?(\"\"\"|''')\s*", ln) and i + 1 < len(lines) and doc is None:
            nxt = lines[i + 1].strip().split(" ", 1)[0].rstrip(":")
            doc = nxt if _looks_like_file(nxt) else None
    return comment, doc


def _choose_path(block: _Block, language: str, content: str, result: Extraction) -> tuple[str | None, str]:
    """The block's path and how it was found, following the module's priority rules."""
    ranked: list[tuple[str, str]] = []
    raw_info = _info_path(block.info)
    if raw_info:
        ranked.append((raw_info, "info-string"))
    for label in reversed(block.labels):  # the label nearest the block first
        ranked.extend((p, label.kind) for p in _paths_in(label.text))
    comment, doc = _in_block_marks(content, language)
    if block.lead:
        ranked.append((block.lead, "comment"))
    if comment:
        ranked.append((comment, "comment"))
    ranked.extend((p, "sentence") for p in _paths_in(block.sentence, labelled=False))
    if doc:
        ranked.append((doc, "docstring"))
    if language in _CODE_LANGS:  # a code block is not requirements.txt when its label also names x.py
        ranked.sort(key=lambda c: _path_language(c[0].replace("\\", "/")) not in (None, language))
    chosen: tuple[str, str] | None = None
    seen: set[str] = set()
    for raw, source in ranked:
        if raw in seen:
            continue
        seen.add(raw)
        path, note = _clean_path(raw)
        if path is None or not _fits(path, language):
            if note:
                result.notes.append(f"line {block.line}: {note}")
            continue
        if chosen is None:
            if note:
                result.notes.append(f"line {block.line}: {note}")
            chosen = (path, source)
        elif path != chosen[0] and path.endswith("/" + chosen[0]):
            chosen = (path, chosen[1])  # same file, more folders: keep the fuller path
    return chosen if chosen else (None, "default")


_BARE_NAME = re.compile(r"[`*]*([\w./\\-]+?)[`*]*:?")


def _take_lead(block: _Block, language: str, result: Extraction) -> _Block:
    """A code block whose first line is only a file of its own language (``lib/x.py`` with no
    ``#``) names itself there; that line is left out of the file, which starts below it."""
    lines = block.content.split("\n")
    first = next((i for i, ln in enumerate(lines) if ln.strip()), None)
    if first is None or first == len(lines) - 1 or language not in _CODE_LANGS:
        return block
    match = _BARE_NAME.fullmatch(lines[first].strip())
    if match is None or not _looks_like_file(match.group(1)):
        return block
    if (
        _path_language(match.group(1).replace("\\", "/")) != language
        or not "".join(lines[first + 1 :]).strip()
    ):
        return block
    result.notes.append(
        f"line {block.line}: first line {match.group(1)!r} names the block; left out of the file"
    )
    rest = "\n".join(lines[first + 1 :])
    return _Block(
        block.line + first + 1, block.info, rest, block.closed, block.labels, block.sentence, match.group(1)
    )


def _only_marks(content: str) -> bool:
    """A block whose only line names a file: the trace of a mis-paired fence."""
    lines = [ln for ln in content.split("\n") if ln.strip()]
    return len(lines) == 1 and _COMMENT_MARK.match(lines[0]) is not None and len(lines[0]) < 200


def _name_only(content: str) -> str | None:
    """The file named by a block that holds only its name (``# lib/x.py`` or ``lib/x.py``): a label
    for the block that follows it."""
    lines = [ln.strip() for ln in content.split("\n") if ln.strip()]
    if len(lines) != 1 or len(lines[0]) >= 200:
        return None
    match = _COMMENT_MARK.match(lines[0]) or _BARE_NAME.fullmatch(lines[0])
    return match.group(1) if match and _looks_like_file(match.group(1)) else None


def _skip_reason(content: str, language: str, path: str | None) -> str | None:
    if not content.strip():
        return "empty"
    if _TREE_RE.search(content) and (path is None or _path_language(path) not in ("markdown", "text")):
        return "directory tree"
    if language == "bash" and (path is None or _path_language(path) != "bash"):
        return "shell commands"
    if path is None and language in ("text", "output", "log") and _OUTPUT_RE.search(content):
        return "output listing"
    return None


def _entries_for(block: _Block, result: Extraction) -> list[_Entry]:
    language = _language(block.info, block.content)
    block = _take_lead(block, language, result)
    path, source = _choose_path(block, language, block.content, result)
    reason = _skip_reason(block.content, language, path)
    if reason is None and _only_marks(block.content):
        reason = "only a file name"
    if reason:
        result.skipped.append(SkippedBlock(line=block.line, language=language, reason=reason))
        return []
    if language == "python":
        pieces = _split_python(block, path, source, result)
        if pieces:
            return pieces
    if path is None and language == "json" and _is_cdk_json(block.content):
        path, source = "cdk.json", "default"
    if path is None and language in ("yaml", "json") and template_format(block.content):
        path, source = f"template.{language}", "default"  # numbered by _number_templates
    if path is None and language not in ("python", *_NODE_LANGS):
        result.skipped.append(
            SkippedBlock(line=block.line, language=language, reason=f"unnamed {language} block")
        )
        return []
    return [_entry(block.line, block.content, path, source, language)]


def _entry(line: int, content: str, path: str | None, source: str, language: str) -> _Entry:
    n_lines = content.count("\n") if content.endswith("\n") else content.count("\n") + 1
    file_lang = (_path_language(path) if path else None) or language
    file = ExtractedFile(
        path=path or "",
        language=file_lang,
        line=line,
        path_source=source,
        content=content,
        end_line=line + max(n_lines, 0) if content else line,
    )
    fragment = (file_lang == "python" and not (_TOP_IMPORT.search(content) or _TOP_DEF.search(content))) or (
        file_lang in _NODE_LANGS and not _NODE_TOP.search(content) and not _NODE_CLASS.search(content)
    )
    return _Entry(file=file, named=path is not None, fragment=fragment, content=content)


# --- splitting a block that holds several files -----------------------------------------------

_MARK_LINE = re.compile(
    rf"^(?:#+\s*|<!--\s*|\*\*|`)?{_DECOR}(?:(?:file\s*name|filename|file|path)\s*:\s*)?[`*]*([\w./\\-]+?)[`*]*:?"
    rf"{_DECOR_END}\s*(?:-->)?\s*$",
    re.IGNORECASE,
)


def _split_python(block: _Block, path: str | None, source: str, result: Extraction) -> list[_Entry]:
    """Split a python block at lines that only name a file, when the pieces parse better."""
    lines = block.content.split("\n")
    marks = _file_marks(lines)
    if not marks:
        return []
    bounds = [(0, marks[0].index, path, source)]
    for k, mark in enumerate(marks):
        end = marks[k + 1].index if k + 1 < len(marks) else len(lines)
        bounds.append((mark.start, end, mark.path, mark.source))
    pieces = []
    for start, end, piece_path, piece_source in bounds:
        start, end = _trim_prose(lines, start, end)
        if start < end:
            pieces.append((start, end, piece_path, piece_source))
    whole_ok = _parses(block.content)
    parsed = [_parses("\n".join(lines[s:e])) for s, e, _, _ in pieces]
    if (whole_ok and not all(parsed)) or (not whole_ok and not any(parsed)) or len(pieces) < 2:
        return []
    result.notes.append(
        f"line {block.line}: one python block holds {len(pieces)} files; split at the names it gives"
    )
    entries = []
    for start, end, piece_path, piece_source in pieces:
        content = "\n".join(lines[start:end]) + "\n"
        entries.append(
            _entry(
                block.line + start, content, piece_path, piece_source if piece_path else "default", "python"
            )
        )
    return entries


@dataclass
class _Mark:
    index: int  # line index where the previous piece ends
    start: int  # line index where this file's content starts
    path: str
    source: str


def _file_marks(lines: list[str]) -> list[_Mark]:
    """Lines at column 0 that only name a file, or docstrings that hold only a file name.

    A name with nothing but comments above it since the previous name (``# pylint: ...``
    then ``# lib/x.py``) labels the same file, so it is not a split point.
    """
    marks: list[_Mark] = []
    in_string = False
    code_since = False  # code seen since the block start or the previous mark
    for i, ln in enumerate(lines):
        quotes = ln.count('"""') + ln.count("'''")
        mark = None if in_string or ln[:1] in (" ", "\t", "") else _mark_at(lines, i)
        if mark is not None and code_since:
            marks.append(mark)
            code_since = False
        elif ln.strip() and not in_string and not ln.lstrip().startswith("#"):
            code_since = True
        if mark is not None and mark.start == i:  # a docstring mark: skip past its closing quotes
            code_since = False
        if quotes % 2:
            in_string = not in_string
    return marks


def _mark_at(lines: list[str], i: int) -> _Mark | None:
    line = lines[i].strip()
    doc = re.fullmatch(r"[rRuU]?(\"\"\"|\'\'\')", line)
    named_doc = re.fullmatch(r"[rRuU]?(?:\"\"\"|\'\'\')\s*([\w./-]+\.py)\s*", line)
    if doc and i + 2 < len(lines) and lines[i + 2].strip() == doc.group(1):
        name = lines[i + 1].strip()  # '"""' / 'lib/x.py' / '"""': a file label written as a docstring
        source, start = "docstring", i
    elif named_doc:
        name = named_doc.group(1)  # '"""lambda_func_stack.py' opening a module docstring of prose
        source, start = "docstring", i
    else:
        match = _MARK_LINE.match(line)
        if match is None:
            return None
        name = match.group(1)
        source, start = ("comment" if line.startswith(("#", "<!--")) else "sentence"), i + 1
    if not _looks_like_file(name):
        return None
    path = safe_relpath(name)
    if path is None or not _fits(path, "python"):
        return None
    return _Mark(index=i, start=start, path=path, source=source)


def _trim_prose(lines: list[str], start: int, end: int) -> tuple[int, int]:
    """Drop blank and prose lines (``2. VPC and Networking Stack``) around a piece."""
    while start < end and (not lines[start].strip() or _is_prose(lines[start])):
        start += 1
    while end > start and (not lines[end - 1].strip() or _is_prose(lines[end - 1])):
        end -= 1
    return start, end


def _is_prose(line: str) -> bool:
    if line[:1] in (" ", "\t") or not _PROSE_RE.match(line.strip()):
        return False
    words = line.strip().split()
    if (
        len(words) < 2
        or words[0].rstrip(":") in _PY_KEYWORDS
        or line.rstrip().endswith(("(", "[", "{", ",", "\\"))
    ):
        return False
    return not _parses(line.strip())


def _parses(source: str) -> bool:
    try:
        parse_module(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError, OverflowError):
        return False
    return True


# --- a TypeScript/JavaScript file shown in parts ---------------------------------------------


def _join_parts(entries: list[_Entry], result: Extraction) -> list[_Entry]:
    """A TypeScript/JavaScript file whose braces stay open at the end of its block, followed by
    unnamed fragments of its language that close them, is one file shown in parts (a class cut
    at each section heading): the parts are joined, with empty lines in place of the prose
    between them so that line ``k`` of the file stays markdown line ``line + k``. Joined only
    when the braces balance exactly at the end of a part; otherwise nothing changes."""
    out: list[_Entry] = []
    i = 0
    while i < len(entries):
        entry = entries[i]
        depth = _brace_depth(entry.content) if entry.file.language in _NODE_LANGS else 0
        if not depth or entry.fragment or depth < 0:
            out.append(entry)
            i += 1
            continue
        j, joined = i + 1, None
        while j < len(entries):
            part = entries[j]
            if part.named or not part.fragment or part.file.language != entry.file.language:
                break
            depth = _brace_depth("\n".join(e.content for e in entries[i : j + 1]))
            j += 1
            if depth == 0:
                joined = j
                break
            if depth < 0:
                break
        if joined is None:
            out.append(entry)
            i += 1
            continue
        content = entry.content
        for part in entries[i + 1 : joined]:
            used = content.count("\n") if content.endswith("\n") else content.count("\n") + 1
            pad = part.file.line - entry.file.line - used
            content = (
                (content if content.endswith("\n") else content + "\n") + "\n" * max(pad, 0) + part.content
            )
        result.notes.append(
            f"block at line {entry.file.line} and the {joined - i - 1} unnamed fragment(s) after it "
            "close each other's braces: one file shown in parts, joined"
        )
        merged = _entry(
            entry.file.line, content, entry.file.path or None, entry.file.path_source, entry.file.language
        )
        merged.named = entry.named
        out.append(merged)
        i = joined
    return out


_JS_TOKEN = re.compile(COMMENT_OR_STRING + r"|[{}]", re.S)


def _brace_depth(code: str) -> int:
    """Open minus closed braces of TypeScript/JavaScript code, strings and comments left out
    (a template literal counts as a string, its ``${...}`` included: they balance)."""
    depth = 0
    for token in _JS_TOKEN.findall(code):
        if token == "{":
            depth += 1
        elif token == "}":
            depth -= 1
            if depth < 0:
                return depth
    return depth


# --- unnamed python blocks and clashes --------------------------------------------------------


def _name_defaults(entries: list[_Entry], mentions_tap: bool, result: Extraction) -> None:
    """Name unnamed python entries by what they contain; never over a path the answer gives."""
    given = {e.file.path for e in entries if e.named}
    for entry in entries:
        if entry.named:
            continue
        path, reason = _default_path(entry, mentions_tap and "tap.py" not in given)
        if path and path in given:
            path, reason = None, f"unnamed; {path} is given by another block"
        if path is None:
            result.skipped.append(
                SkippedBlock(line=entry.file.line, language=entry.file.language, reason=reason)
            )
            entry.file.path = ""
            continue
        entry.file.path = path


def _default_path(entry: _Entry, tap_entry: bool) -> tuple[str | None, str]:
    content = entry.content
    if entry.file.language in _NODE_LANGS:
        return default_node_path(content, entry.file.language)
    if entry.fragment or not _TOP_IMPORT.search(content):
        return None, "fragment"
    if _APP_RE.search(content) and _SYNTH_RE.search(content):
        return ("tap.py" if tap_entry else "app.py"), ""
    classes = [
        (name, bases)
        for name, bases in _CLASS_RE.findall(content)
        if re.search(r"(Stack|Construct|Stage)\b", bases)
    ]
    if classes:
        names = [name for name, _ in classes]
        return ("lib/tap_stack.py" if "TapStack" in names else f"lib/{_snake(names[0])}.py"), ""
    if re.search(r"^def\s+lambda_handler\s*\(", content, re.M):
        return "lambda/lambda_function.py", ""
    if re.search(r"^def\s+handler\s*\(", content, re.M):
        return "lambda/index.py", ""
    return None, "unnamed"


# --- unnamed TypeScript / JavaScript blocks ---------------------------------------------------

_NODE_LANGS = ("typescript", "javascript")
_NODE_TOP = re.compile(r"^(?:import\s|export\s|const\s+\w+\s*=\s*require\()", re.M)
_NODE_APP = re.compile(r"\bnew\s+(?:\w+\.)?App\s*\(")
_NODE_CLASS = re.compile(
    r"^(?:export\s+)?class\s+(\w+)\s+extends\s+(?:\w+\.)?(?:Stack|NestedStack|Construct|Stage)\b", re.M
)
_NODE_HANDLER = re.compile(
    r"^(?:export\s+(?:const|async\s+function|function)\s+handler\b|exports\.handler\s*=)", re.M
)


def default_node_path(content: str, language: str) -> tuple[str | None, str]:
    """An unnamed CDK TypeScript/JavaScript block, named where the scaffold's app looks for it:
    an app is ``bin/tap.ts`` (``bin/tap.mjs`` for JavaScript modules), a Stack or Construct class
    ``lib/tap-stack.ts`` for ``TapStack`` else ``lib/<kebab-case-class>.ts``, a Lambda handler
    ``lib/lambda/index.ts``."""
    ext = "ts" if language == "typescript" else "js"
    if not _NODE_TOP.search(content):
        return None, "fragment"
    if _NODE_APP.search(content) and not _NODE_CLASS.search(content):
        if language == "javascript":
            return ("bin/tap.mjs" if re.search(r"^import\s", content, re.M) else "bin/tap.js"), ""
        return "bin/tap.ts", ""
    classes = _NODE_CLASS.findall(content)
    if classes:
        name = "TapStack" if "TapStack" in classes else classes[0]
        return f"lib/{_snake(name).replace('_', '-')}.{ext}", ""
    if _NODE_HANDLER.search(content):
        return f"lib/lambda/index.{ext}", ""
    return None, "unnamed"


def _number_templates(entries: list[_Entry]) -> None:
    """Unnamed templates are ``template.yaml``, ``template-2.yaml``, ... in the answer's order:
    which of them is the main one (and which are drafts of it) is the kind's call, not extraction's."""
    count = 0
    for entry in entries:
        f = entry.file
        if f.path_source == "default" and f.path in ("template.yaml", "template.json"):
            count += 1
            if count > 1:
                stem, ext = f.path.rsplit(".", 1)
                f.path = f"{stem}-{count}.{ext}"


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])|(?<=[A-Z])([A-Z])(?=[a-z])", r"_\1\2", name).lower()


def _resolve(entries: list[_Entry], result: Extraction) -> list[ExtractedFile]:
    """One file per path: the later block wins, except that a fragment never replaces code."""
    winners: dict[str, _Entry] = {}
    for entry in entries:
        path = entry.file.path
        if not path:
            continue
        earlier = winners.get(path)
        if entry.fragment and entry.file.path_source in ("sentence", "docstring"):
            reason = f"fragment (named only by a {entry.file.path_source})"
            result.skipped.append(
                SkippedBlock(line=entry.file.line, language=entry.file.language, reason=reason)
            )
            continue
        if earlier is not None:
            if entry.fragment and not earlier.fragment:
                reason = f"fragment; would replace {path} from line {earlier.file.line}"
                result.skipped.append(
                    SkippedBlock(line=entry.file.line, language=entry.file.language, reason=reason)
                )
                continue
            entry.file.overrides = [*earlier.file.overrides, earlier.file.line]
        winners[path] = entry
    return sorted((e.file for e in winners.values()), key=lambda f: f.line)

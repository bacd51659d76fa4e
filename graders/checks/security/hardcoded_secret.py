"""hardcoded-secret: passwords, API keys and tokens written into the code or the template as literals."""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from iacgrade.graders.analysis.cfn import is_intrinsic
from iacgrade.graders.analysis.context import CheckContext, Hit
from iacgrade.graders.analysis.inline import source_inline_code
from iacgrade.graders.analysis.model import (
    construct_call_id,
    index_of,
    key_text,
    merge_lenses,
    pretty,
    template_key,
)
from iacgrade.graders.analysis.pyast import call_name, dotted, kwarg, parents, str_literal, walk
from iacgrade.graders.analysis.secret_names import SECRET_WORDS, is_secret_name
from iacgrade.graders.analysis.source import SourceFile
from iacgrade.graders.analysis.template import Resource
from iacgrade.graders.analysis.tsast import TsFile, ts_files
from iacgrade.graders.checks import CheckOptions, check
from iacgrade.graders.paths import is_test_file

if TYPE_CHECKING:
    from tree_sitter import Node


class HardcodedSecretOptions(CheckOptions):
    secret_names: tuple[str, ...] = SECRET_WORDS
    """Words that make a setting secret-named when its name ends with one (``DB_PASSWORD``, ``apiKey``)."""


@check(
    "hardcoded-secret",
    lenses=("source", "template"),
    kinds=("cdk-python", "cdk-typescript", "cdk-javascript"),
    options=HardcodedSecretOptions,
)
def hardcoded_secret(ctx: CheckContext) -> Iterator[Hit]:
    """Passwords, API keys and tokens written into the code or the template as literals.

    What it finds: secret-named settings (rubric option `secret_names`: password, api_key,
    token, ...) holding a literal that looks like a real credential — Lambda environment
    variables, `CfnParameter` defaults, outputs, `master_user_password`,
    `SecretValue.unsafe_plain_text("...")`, secret strings, SSM parameters, API key values —
    and AWS access key ids or other recognisable tokens anywhere, including the answer's
    application code (Lambda handlers, scripts). Placeholders (`CHANGE_ME`, `<your-key>`),
    references (ARNs, `{{resolve:...}}`) and the names of secrets (`DB_SECRET_NAME: "prod/db"`)
    are not secrets. Unit tests are not read. CDK TypeScript and JavaScript are read the same
    way (secret-named properties and variables, ``SecretValue.unsafePlainText("...")``,
    ``process.env.X || "literal"``).

    Why it matters: a literal credential ends up in the repository, the synthesized template,
    the Lambda console and every log that prints the configuration; it cannot be rotated
    without a redeploy.

    Bad example:

        lambda_.Function(self, "Handler", ..., environment={"DB_PASSWORD": "hunter22"})

    Fix: keep the value in Secrets Manager or SSM Parameter Store (SecureString), pass its name or
    ARN and read it at run time, or let CDK generate it (`Credentials.from_generated_secret`).
    """
    names = list(ctx.options(HardcodedSecretOptions).secret_names)
    template_hits = list(_secret_template(ctx, names)) if ctx.template.present else []
    # A literal credential in the code counts whether or not it reaches a template; hits share
    # the value as key, so the code line and the template resource of one secret merge.
    source_hits = [*_secret_source(ctx, names), *_ts_secret_source(ctx, names)]
    yield from merge_lenses(ctx, template_hits, source_hits, keep_unmatched=True)


# ==== hardcoded-secret ======================================================================

# Values that stand in for a secret rather than being one.
_PLACEHOLDER = re.compile(
    r"change.?me|changeit|replace|your[-_ ]|placeholder|example|dummy|sample|x{3,}|\*{3,}|<[^>]*>|"
    r"\btodo\b|fixme|default|redacted|not[-_ ]?set|here\b|^(none|null|true|false|test|string|secret|"
    r"password|token|undefined|empty|unknown)$",
    re.IGNORECASE,
)


# Secret formats that need no name to be recognised (AWS example keys end in EXAMPLE).
_TOKEN_PATTERNS = (
    ("AWS access key id", re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b")),
    ("private key", re.compile(r"-----BEGIN (?:RSA |EC |OPENSSH |DSA )?PRIVATE KEY-----")),
    ("GitHub token", re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36}\b")),
    ("Slack token", re.compile(r"\bxox[baprs]-[A-Za-z0-9-]{10,}")),
    ("API secret key", re.compile(r"\bsk_(?:live|test)_[A-Za-z0-9]{16,}|\bsk-[A-Za-z0-9_-]{20,}")),
)


_SECRET_VALUE_CALLS = frozenset({"unsafe_plain_text", "plain_text", "SecretValue"})


_GETENV = frozenset({"getenv", "get"})


def _looks_secret(value: str) -> bool:
    """A literal that could be a real credential: not a placeholder, reference, name or sentence."""
    v = value.strip()
    if len(v) >= 2 and v[0] == v[-1] and v[0] in "'\"":
        v = v[1:-1]  # API Gateway header values are quoted: "'true'"
    if len(v) < 4 or len(v) > 4096 or any(c.isspace() for c in v):
        return False
    # A placeholder is words only (`CHANGE_ME`, `<your-api-key>`); `ChangeMe123!` is a usable password.
    if _PLACEHOLDER.search(v) and re.fullmatch(r"[A-Za-z_\-. <>{}\[\]*/]+", v):
        return False
    if v.startswith(("arn:", "{{resolve", "${", "http://", "https://", "/", "alias/", "$")):
        return False
    if re.fullmatch(r"[A-Z][A-Z0-9_]+", v):
        return False  # an environment variable name
    # A resource name or path (`prod/db`, `orders-api-key-v2`): lower-case words joined by
    # separators. Random-looking parts (`tok_9a8b7c6d5e4f`) make it a secret again.
    if re.fullmatch(r"[a-z0-9]+(?:[-_./:][a-z0-9]+)+", v):
        parts = re.split(r"[-_./:]", v)
        return not all(p.isalpha() or len(p) <= 4 for p in parts)
    return True


def _token_kind(value: str) -> str | None:
    if "EXAMPLE" in value:
        return None
    for kind, pattern in _TOKEN_PATTERNS:
        if pattern.search(value):
            return kind
    return None


def _mask(value: str) -> str:
    """Show enough of a secret to find it, not enough to use it."""
    v = value.strip()
    if len(v) <= 6:
        return f"'{v[:1]}{'*' * (len(v) - 1)}'"
    return f"'{v[:3]}…{v[-2:]}' ({len(v)} chars)"


@dataclass
class _Secret:
    name: str
    value: str
    kind: str | None = None  # token format when recognised without a name


def _judge(name: str, value: Any, secret_names: list[str], *, named_secret: bool = False) -> _Secret | None:
    """A secret when ``value`` is a literal string that a secret-named setting holds."""
    if not isinstance(value, str) or "${Token[" in value:
        return None
    kind = _token_kind(value)
    if kind:
        return _Secret(name, value, kind)
    if (named_secret or is_secret_name(name, secret_names)) and _looks_secret(value):
        return _Secret(name, value)
    return None


def _secret_message(secret: _Secret, where: str) -> str:
    what = f"a literal {secret.kind}" if secret.kind else "the literal"
    return f"`{secret.name}` is {what} {_mask(secret.value)} {where}"


def _secret_source(ctx: CheckContext, names: list[str]) -> Iterator[Hit]:
    for src in ctx.source.parsed():
        if src.tree is None or is_test_file(src.path):
            continue
        bindings = index_of(src)
        infra = src.inline_of is None and index_of(src).imports_cdk
        seen: set[int] = set()
        for node, secret in _source_secrets(src.tree, names):
            if id(node) in seen:
                continue
            seen.add(id(node))
            if infra:
                construct, _ = bindings.enclosing_construct(node)
                where = f"on {pretty(construct)}" if construct else f"in {src.path}"
            else:
                where = f"in application code {src.path}"
            yield Hit(
                _secret_message(secret, where),
                [ctx.source.at(src, node, value=f"{secret.name}={_mask(secret.value)}")],
                key="secret:" + secret.value,
            )
        if infra:
            yield from _inline_secrets(ctx, src, names)


def _inline_secrets(ctx: CheckContext, src: SourceFile, names: list[str]) -> Iterator[Hit]:
    """Literal secrets inside inline Lambda code (`Code.from_inline`), read as Python."""
    for inline in source_inline_code(src):
        if inline.language != "python":
            continue
        code = inline.as_source()
        if code.tree is None:
            continue
        for node, secret in _source_secrets(code.tree, names):
            line = getattr(node, "lineno", None)
            yield Hit(
                _secret_message(secret, f"in the inline code of {pretty(inline.label)}"),
                [inline.evidence(ctx, code_line=line, value=f"{secret.name}={_mask(secret.value)}")],
                key="secret:" + secret.value,
            )


def _source_secrets(tree: ast.Module, names: list[str]) -> Iterator[tuple[ast.AST, _Secret]]:
    """(value node, secret) for every literal secret the module writes down."""
    parent = parents(tree)
    for node in walk(tree):
        if isinstance(node, ast.keyword) and node.arg:
            found = _judge(node.arg, str_literal(node.value), names)
            if found:
                yield node.value, found
        elif isinstance(node, ast.Dict):
            for k, v in zip(node.keys, node.values, strict=False):
                key = str_literal(k)
                found = _judge(key, str_literal(v), names) if key else None
                if found:
                    yield v, found
        elif isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                name = target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", None)
                found = _judge(name, str_literal(node.value), names) if name else None
                if found:
                    yield node.value, found
        elif isinstance(node, ast.Call):
            yield from _call_secrets(node, parent, names)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            kind = _token_kind(node.value)
            if kind:
                yield node, _Secret("string", node.value, kind)


def _call_secrets(
    call: ast.Call, parent: dict[ast.AST, ast.AST], names: list[str]
) -> Iterator[tuple[ast.AST, _Secret]]:
    name = call_name(call)
    first = call.args[0] if call.args else None
    if name in _SECRET_VALUE_CALLS and (name != "plain_text" or "SecretValue" in dotted(call.func)):
        value = str_literal(first)
        if value is not None:
            found = _judge(_context_name(call, parent), value, names, named_secret=True)
            if found:
                yield first, found  # type: ignore[misc]
    elif name in _GETENV and len(call.args) >= 2 and "environ" in dotted(call.func) + "getenv":
        var = str_literal(call.args[0])
        found = _judge(var, str_literal(call.args[1]), names) if var else None
        if found:
            yield call.args[1], found
    elif name in ("CfnParameter", "CfnOutput", "StringParameter", "CfnApiKey", "ApiKey"):
        cid = construct_call_id(call) or ""
        key = {"CfnParameter": "default", "CfnOutput": "value", "StringParameter": "string_value"}.get(
            name, "value"
        )
        value_node = kwarg(call, key)
        label = str_literal(kwarg(call, "parameter_name")) or cid
        named = (
            name in ("CfnApiKey", "ApiKey")
            or is_secret_name(cid, names)
            or is_secret_name(label.rsplit("/", 1)[-1], names)
        )
        found = _judge(f"{cid}.{key}" if cid else key, str_literal(value_node), names, named_secret=named)
        if found and value_node is not None:
            yield value_node, found


def _ts_secret_source(ctx: CheckContext, names: list[str]) -> Iterator[Hit]:
    """The same in TypeScript/JavaScript files: a secret-named property, variable or assignment
    holding a literal, `SecretValue.unsafePlainText("...")`, `process.env.X || "literal"`, a
    secret-named CfnParameter's default, and recognisable tokens in any string."""
    for tsf in ts_files(ctx.source):
        infra = tsf.imports_cdk()
        seen: set[int] = set()
        for node, secret in _ts_secrets(tsf, names):
            if node.id in seen:
                continue
            seen.add(node.id)
            if infra:
                owner = tsf.enclosing_construct(node)
                construct = tsf.construct_id(owner.args[1]) if owner is not None else None
                where = f"on {pretty(construct)}" if construct else f"in {tsf.src.path}"
            else:
                where = f"in application code {tsf.src.path}"
            yield Hit(
                _secret_message(secret, where),
                [ctx.source.at(tsf.src, tsf.line(node), value=f"{secret.name}={_mask(secret.value)}")],
                key="secret:" + secret.value,
            )


def _ts_secrets(tsf: TsFile, names: list[str]) -> Iterator[tuple[Node, _Secret]]:
    def judged(name: str | None, value: Node | None, named: bool = False) -> Iterator[tuple[Node, _Secret]]:
        text = tsf.string(tsf.unwrap(value)) if value is not None else None
        found = _judge(name, text, names, named_secret=named) if name else None
        if found and value is not None:
            yield value, found

    for pair in tsf.nodes("pair"):
        yield from judged(tsf.pair_key(pair), pair.child_by_field_name("value"))
    for decl in tsf.nodes("variable_declarator"):
        name_node = decl.child_by_field_name("name")
        yield from judged(
            tsf.text(name_node) if name_node is not None else None, decl.child_by_field_name("value")
        )
    for assign in tsf.nodes("assignment_expression"):
        left = assign.child_by_field_name("left")
        target = tsf.dotted(left) if left is not None else None
        yield from judged(target.rsplit(".", 1)[-1] if target else None, assign.child_by_field_name("right"))
    for binary in tsf.nodes("binary_expression"):
        op, left = binary.child_by_field_name("operator"), binary.child_by_field_name("left")
        var = (
            tsf.dotted(left) if left is not None and op is not None and tsf.text(op) in ("||", "??") else None
        )
        if var is not None and var.startswith("process.env."):
            yield from judged(var.removeprefix("process.env."), binary.child_by_field_name("right"))
    for call in tsf.calls("unsafePlainText", "plainText"):
        if "SecretValue" in (call.callee or ""):
            owner = next((a for a in tsf.ancestors(call.node) if a.type == "pair"), None)
            key = owner.child_by_field_name("key") if owner is not None else None
            first = call.args[0] if call.args else None
            yield from judged(tsf.text(key) if key is not None else "SecretValue", first, named=True)
    for new in tsf.news():
        field = {"CfnParameter": "default", "StringParameter": "stringValue", "CfnApiKey": "value"}.get(
            new.cls
        )
        cid = tsf.literal(new.args[1]) if len(new.args) > 1 else None
        if field is None or cid is None:
            continue
        named = new.cls == "CfnApiKey" or is_secret_name(cid, names)
        yield from judged(f"{cid}.{field}", tsf.props(new.arg(2)).get(field), named=named)
    for node in tsf.nodes("string", "template_string"):
        text = tsf.string(node)
        kind = _token_kind(text) if text else None
        if kind and text:
            yield node, _Secret("string", text, kind)


def _context_name(node: ast.AST, parent: dict[ast.AST, ast.AST]) -> str:
    """The setting a SecretValue is passed to: keyword, dict key or the call it is an argument of."""
    cur = parent.get(node)
    child = node
    while cur is not None and not isinstance(cur, ast.stmt):
        if isinstance(cur, ast.keyword) and cur.arg:
            return cur.arg
        if isinstance(cur, ast.Dict):
            for k, v in zip(cur.keys, cur.values, strict=False):
                if v is child and str_literal(k):
                    return str_literal(k) or ""
        if isinstance(cur, ast.Call) and cur is not node:
            return call_name(cur)
        child, cur = cur, parent.get(cur)
    return "SecretValue"


def _secret_template(ctx: CheckContext, names: list[str]) -> Iterator[Hit]:
    for res in ctx.template.resources():
        label = f"{key_text(template_key(res))} ({res.type})"
        for secret in _resource_secrets(res, names):
            yield Hit(
                _secret_message(secret, f"in the template on {label}"),
                [res.evidence(value=f"{secret.name}={_mask(secret.value)}")],
                key="secret:" + secret.value,
                lens="template",
            )
    for stack, template in sorted(ctx.template.templates.items()):
        for section, field_name in (("Parameters", "Default"), ("Outputs", "Value")):
            entries = template.get(section)
            if not isinstance(entries, dict):
                continue
            for lid, entry in entries.items():
                if not isinstance(entry, dict):
                    continue
                found = _judge(lid, entry.get(field_name), names)
                if found:
                    yield Hit(
                        _secret_message(
                            found, f"as the {field_name.lower()} of {section[:-1].lower()} {lid}"
                        ),
                        [
                            ctx.template.entry_evidence(
                                stack, section, lid, f"{field_name}={_mask(found.value)}"
                            )
                        ],
                        key="secret:" + found.value,
                        lens="template",
                    )


def _resource_secrets(res: Resource, names: list[str]) -> Iterator[_Secret]:
    props = res.properties
    if res.type == "AWS::SecretsManager::Secret":
        yield from _secret_string(props.get("SecretString"), names)
    elif res.type == "AWS::SSM::Parameter":
        pname = props.get("Name")
        last = pname.rsplit("/", 1)[-1] if isinstance(pname, str) else ""
        found = _judge(
            last or "Value",
            props.get("Value"),
            names,
            named_secret=bool(last) and is_secret_name(last, names),
        )
        if found:
            yield found
    elif res.type == "AWS::ApiGateway::ApiKey":
        found = _judge("Value", props.get("Value"), names, named_secret=True)
        if found:
            yield found
    for key, value in props.items():
        if key in ("Code", "Tags", "SecretString", "InlineCode", "DefinitionString", "Definition"):
            continue
        yield from _walk_secrets(key, value, names, 0)


def _secret_string(value: Any, names: list[str]) -> Iterator[_Secret]:
    if not isinstance(value, str):
        return
    try:
        data = json.loads(value)
    except ValueError:
        data = None
    if isinstance(data, dict):
        for k, v in data.items():
            found = _judge(str(k), v, names)
            if found:
                yield found
    else:
        found = _judge("SecretString", value, names, named_secret=True)
        if found:
            yield found


def _walk_secrets(name: str, value: Any, names: list[str], depth: int) -> Iterator[_Secret]:
    if depth > 12:
        return
    if isinstance(value, str):
        found = _judge(name, value, names)
        if found:
            yield found
    elif isinstance(value, dict):
        if is_intrinsic(value):
            return
        # Environment entries of ECS containers / CodeBuild projects: {"Name": "DB_PASSWORD", "Value": ...}.
        # A CodeBuild entry of type PARAMETER_STORE / SECRETS_MANAGER holds a reference, not the value.
        if isinstance(value.get("Name"), str) and "Value" in value and len(value) <= 3:
            if value.get("Type", "PLAINTEXT") == "PLAINTEXT":
                found = _judge(value["Name"], value.get("Value"), names)
                if found:
                    yield found
            return
        for k, v in value.items():
            yield from _walk_secrets(str(k), v, names, depth + 1)
    elif isinstance(value, list):
        for item in value:
            yield from _walk_secrets(name, item, names, depth + 1)

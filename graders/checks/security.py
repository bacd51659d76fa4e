"""Data-protection checks: secrets written as literals, public buckets, unencrypted data stores."""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from graders.checks import check
from graders.checks._ast import call_name, dotted, iter_calls, kwarg, literal, str_literal, walk
from graders.checks._cfn import as_list, is_intrinsic, policy_statements
from graders.checks._constructs import (
    Bindings,
    construct_call_id,
    construct_label,
    display_name,
    is_cdk_file,
    is_test_file,
    pretty,
    reconcile,
    ref_target,
    template_key,
)
from graders.checks._inline import source_inline_code
from graders.checks.context import CheckContext, Hit, Resource, SourceFile
from graders.models import Evidence

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
# Suffixes that make a secret-sounding name the *name* (ARN, path, length, ...) of a secret.
_NAME_SUFFIXES = frozenset(
    {
        "name",
        "names",
        "arn",
        "arns",
        "id",
        "ids",
        "path",
        "prefix",
        "param",
        "parameter",
        "env",
        "var",
        "header",
        "field",
        "length",
        "len",
        "type",
        "policy",
        "rotation",
        "ttl",
        "validity",
        "units",
        "template",
        "string",
        "key",
        "region",
        "version",
        "enabled",
        "required",
        "url",
        "uri",
        "location",
        "count",
        "source",
        "config",
        "settings",
        "options",
        "props",
        "secret",
        "lambda",
        "function",
    }
)
_SECRET_VALUE_CALLS = frozenset({"unsafe_plain_text", "plain_text", "SecretValue"})
_GETENV = frozenset({"getenv", "get"})


def _tokens(name: str) -> list[str]:
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", name)
    spaced = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1 \2", spaced)
    return [t for t in re.split(r"[^A-Za-z0-9]+", spaced.lower()) if t]


def _is_secret_name(name: str, secret_names: list[str]) -> bool:
    """`DB_PASSWORD`, `apiKey`, `client_secret`: the name ends with a secret word."""
    tokens = _tokens(name)
    if not tokens:
        return False
    for word in secret_names:
        wt = _tokens(word)
        if not wt:
            continue
        if (
            tokens[-len(wt) :] == wt
            or "".join(tokens[-len(wt) :]) == "".join(wt)
            or tokens[-1] == "".join(wt)
        ):
            return True
    return False


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
    if (named_secret or _is_secret_name(name, secret_names)) and _looks_secret(value):
        return _Secret(name, value)
    return None


@check("hardcoded-secret", lenses=("source", "template"))
def hardcoded_secret(ctx: CheckContext) -> Iterator[Hit]:
    """Passwords, API keys and tokens written into the code or the template as literals.

    What it finds: secret-named settings (rubric option `secret_names`: password, api_key,
    token, ...) holding a literal that looks like a real credential — Lambda environment
    variables, `CfnParameter` defaults, outputs, `master_user_password`,
    `SecretValue.unsafe_plain_text("...")`, secret strings, SSM parameters, API key values —
    and AWS access key ids or other recognisable tokens anywhere, including the answer's
    application code (Lambda handlers, scripts). Placeholders (`CHANGE_ME`, `<your-key>`),
    references (ARNs, `{{resolve:...}}`) and the names of secrets (`DB_SECRET_NAME: "prod/db"`)
    are not secrets. Unit tests are not read.

    Why it matters: a literal credential ends up in the repository, the synthesized template,
    the Lambda console and every log that prints the configuration; it cannot be rotated
    without a redeploy.

    Bad example:

        lambda_.Function(self, "Handler", ..., environment={"DB_PASSWORD": "hunter22"})

    Fix: keep the value in Secrets Manager or SSM Parameter Store (SecureString), pass its name or
    ARN and read it at run time, or let CDK generate it (`Credentials.from_generated_secret`).
    """
    names = list(ctx.option("hardcoded-secret", "secret_names", []) or [])
    template_hits = list(_secret_template(ctx, names)) if ctx.has_template else []
    # A literal credential in the code counts whether or not it reaches a template; hits share
    # the value as key, so the code line and the template resource of one secret merge.
    yield from reconcile(ctx, template_hits, _secret_source(ctx, names), keep_unmatched=True)


def _secret_message(secret: _Secret, where: str) -> str:
    what = f"a literal {secret.kind}" if secret.kind else "the literal"
    return f"`{secret.name}` is {what} {_mask(secret.value)} {where}"


def _secret_source(ctx: CheckContext, names: list[str]) -> Iterator[Hit]:
    for src in ctx.parsed():
        if src.tree is None or is_test_file(src.path):
            continue
        bindings = Bindings(src.tree)
        infra = src.inline_of is None and is_cdk_file(src.tree)
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
                [ctx.at(src, node, value=f"{secret.name}={_mask(secret.value)}")],
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
    parent = {child: node for node in walk(tree) for child in ast.iter_child_nodes(node)}
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
            or _is_secret_name(cid, names)
            or _is_secret_name(label.rsplit("/", 1)[-1], names)
        )
        found = _judge(f"{cid}.{key}" if cid else key, str_literal(value_node), names, named_secret=named)
        if found and value_node is not None:
            yield value_node, found


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
    for res in ctx.resources():
        label = f"{display_name(template_key(res))} ({res.type})"
        for secret in _resource_secrets(res, names):
            yield Hit(
                _secret_message(secret, f"in the template on {label}"),
                [res.evidence(value=f"{secret.name}={_mask(secret.value)}")],
                key="secret:" + secret.value,
                lens="template",
            )
    for stack, template in sorted(ctx.templates.items()):
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
                        [_section_evidence(stack, lid, f"{field_name}={_mask(found.value)}")],
                        key="secret:" + found.value,
                        lens="template",
                    )


def _section_evidence(stack: str, lid: str, value: str) -> Evidence:
    return Evidence(stack=stack, resource=lid, value=value)


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
            named_secret=bool(last) and _is_secret_name(last, names),
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


# ==== s3-public-access ======================================================================

_BPA_FIELDS = ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets")
_BPA_KWARGS = ("block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets")
_PUBLIC_ACLS = {"PublicRead", "PublicReadWrite", "AuthenticatedRead"}
_PUBLIC_ACL_ATTRS = {"PUBLIC_READ", "PUBLIC_READ_WRITE", "AUTHENTICATED_READ"}
# Condition keys that pin a policy to known callers, so AWS does not treat it as public.
_RESTRICTING_KEYS = frozenset(
    {
        "aws:sourcearn",
        "aws:sourceaccount",
        "aws:sourcevpc",
        "aws:sourcevpce",
        "aws:sourceip",
        "aws:sourceowner",
        "aws:principalorgid",
        "aws:principalorgpaths",
        "aws:principalaccount",
        "aws:principalarn",
        "aws:userid",
        "aws:sourceorgid",
        "aws:sourceorgpaths",
        "s3:dataaccesspointarn",
        "s3:dataaccesspointaccount",
    }
)


@check("s3-public-access", lenses=("source", "template"))
def s3_public_access(ctx: CheckContext) -> Iterator[Hit]:
    """S3 buckets opened to the public.

    What it finds: Block Public Access turned (partly) off, `public_read_access=True`, public
    canned ACLs (`PublicRead`, `PublicReadWrite`, `AuthenticatedRead`) and bucket policies that
    Allow the `*` principal with no condition pinning the callers (source ARN/account, VPC
    endpoint, IP range, organisation). A bucket that sets nothing is fine: new buckets block
    public access; Deny statements with `*` (TLS-only policies) are fine too.

    Why it matters: anyone on the internet can list or download the objects (or, with write
    access, plant content), and a public bucket is among the most common causes of data leaks.

    Bad example:

        s3.Bucket(self, "Site", public_read_access=True,
                  block_public_access=s3.BlockPublicAccess.BLOCK_ACLS)

    Fix: keep `block_public_access=s3.BlockPublicAccess.BLOCK_ALL` and serve content through
    CloudFront with origin access control, or grant access to named principals only.
    """
    template_hits = list(_public_template(ctx)) if ctx.has_template else []
    yield from reconcile(ctx, template_hits, _public_source(ctx))


def _public_principal(principal: Any) -> bool:
    if principal == "*":
        return True
    if isinstance(principal, dict):
        return any(v == "*" or (isinstance(v, list) and "*" in v) for v in principal.values())
    return False


def _restricted(condition: Any) -> bool:
    if not isinstance(condition, dict):
        return False
    for operator, body in condition.items():
        if not isinstance(body, dict):
            continue
        if str(operator).lower().startswith("null"):
            continue
        if any(str(k).lower() in _RESTRICTING_KEYS for k in body):
            return True
    return False


def _public_statements(document: Any) -> list[str]:
    """Actions of Allow statements that any principal may use without a pinning condition."""
    out: list[str] = []
    for stmt in policy_statements(document):
        if stmt.get("Effect") != "Allow" or not _public_principal(stmt.get("Principal")):
            continue
        if _restricted(stmt.get("Condition")):
            continue
        actions = [a for a in as_list(stmt.get("Action")) if isinstance(a, str)]
        out.append(", ".join(actions) or "?")
    return out


def _public_template(ctx: CheckContext) -> Iterator[Hit]:
    buckets = {(b.stack, b.logical_id): b for b in ctx.resources("AWS::S3::Bucket")}
    reasons: dict[tuple[str, str], list[str]] = {}
    evidence: dict[tuple[str, str], list[Any]] = {}
    opened: set[tuple[str, str]] = set()  # buckets with an actual public grant (or BPA fully off)
    for ref, bucket in buckets.items():
        props = bucket.properties
        pab = props.get("PublicAccessBlockConfiguration")
        if isinstance(pab, dict) and not is_intrinsic(pab):
            off = [f for f in _BPA_FIELDS if pab.get(f) is not True and not is_intrinsic(pab.get(f))]
            if off:
                reasons.setdefault(ref, []).append(
                    f"PublicAccessBlockConfiguration leaves {', '.join(off)} off"
                )
                evidence.setdefault(ref, []).append(bucket.evidence(value=f"{', '.join(off)}: false"))
                if len(off) == len(_BPA_FIELDS):
                    opened.add(ref)
        acl = props.get("AccessControl")
        if acl in _PUBLIC_ACLS:
            reasons.setdefault(ref, []).append(f"AccessControl {acl}")
            evidence.setdefault(ref, []).append(bucket.evidence(value=f"AccessControl: {acl}"))
            opened.add(ref)
    for policy in ctx.resources("AWS::S3::BucketPolicy"):
        public = _public_statements(policy.properties.get("PolicyDocument"))
        if not public:
            continue
        target = ref_target(policy.properties.get("Bucket"))
        ref = (
            (policy.stack, target)
            if target and (policy.stack, target) in buckets
            else (policy.stack, policy.logical_id)
        )
        reasons.setdefault(ref, []).append(f"bucket policy allows {'; '.join(public)} to Principal *")
        evidence.setdefault(ref, []).append(policy.evidence(value=f"Allow {'; '.join(public)} to *"))
        opened.add(ref)
        if ref not in buckets:
            buckets[ref] = policy
    for ref, why in reasons.items():
        if ref not in opened:
            continue  # relaxed Block Public Access alone (ACLs for log delivery, say) grants nobody access
        key = template_key(buckets[ref])
        yield Hit(
            f"Bucket {display_name(key)} is open to the public: {'; '.join(why)}",
            evidence[ref],
            key=key,
            lens="template",
        )


def _bpa_off(node: ast.AST | None) -> tuple[str, bool] | None:
    """What a block_public_access / public_access_block_configuration value leaves off, and
    whether that is all of it."""
    if node is None or (isinstance(node, ast.Constant) and node.value is None):
        return None
    name = dotted(node)
    if name.endswith("BLOCK_ALL"):
        return None
    if name.endswith(("BLOCK_ACLS", "BLOCK_ACLS_ONLY")):
        return f"block_public_access={name.rsplit('.', 1)[-1]} (public bucket policies stay allowed)", False
    items: dict[str, ast.expr] | None = None
    if isinstance(node, ast.Call):
        items = {kw.arg: kw.value for kw in node.keywords if kw.arg}
    elif isinstance(node, ast.Dict):
        items = {str_literal(k) or "": v for k, v in zip(node.keys, node.values, strict=False)}
    if items is None:
        return None
    off = []
    for field_name in _BPA_KWARGS:
        value = items.get(field_name)
        if value is None or literal(value, "?") is False:
            off.append(field_name)
        elif literal(value, "?") == "?":
            return None  # a variable: cannot tell
    if not off:
        return None
    return f"block_public_access turns off {', '.join(off)}", len(off) == len(_BPA_KWARGS)


def _public_source(ctx: CheckContext) -> Iterator[Hit]:
    for src in ctx.parsed():
        if src.tree is None or src.inline_of is not None or not is_cdk_file(src.tree):
            continue
        bindings = Bindings(src.tree)
        found: dict[str, list[tuple[str, Any]]] = {}
        labels: dict[str, str] = {}
        opened: set[str] = set()
        for call in iter_calls(src.tree, "Bucket", "CfnBucket"):
            key = construct_call_id(call)
            if not key:
                continue
            labels[key] = construct_label(call) or key
            for why, node, grant in _bucket_reasons(call):
                found.setdefault(key, []).append((why, ctx.at(src, node, value=why)))
                if grant:
                    opened.add(key)
        for call in iter_calls(src.tree, "grant_public_access", "add_to_resource_policy"):
            if not isinstance(call.func, ast.Attribute):
                continue
            owner = bindings.owner(call.func.value)
            if not owner:
                continue
            if call.func.attr == "grant_public_access":
                found.setdefault(owner, []).append(
                    ("grant_public_access()", ctx.at(src, call, value="grant_public_access()"))
                )
                opened.add(owner)
                continue
            stmt: ast.expr | None = call.args[0] if call.args else kwarg(call, "permission")
            if isinstance(stmt, (ast.Name, ast.Attribute)):
                stmt = bindings.value_of(stmt)
            public = _public_statement_source(stmt)
            if public:
                found.setdefault(owner, []).append((public, ctx.at(src, call, value=public)))
                opened.add(owner)
        for key, items in found.items():
            if key not in opened:
                continue  # relaxed Block Public Access alone grants nobody access
            yield Hit(
                f"Bucket {labels.get(key, pretty(key))} is open to the public: {'; '.join(w for w, _ in items)}",
                [ev for _, ev in items],
                key=key,
            )


def _bucket_reasons(call: ast.Call) -> Iterator[tuple[str, ast.AST, bool]]:
    """(reason, node, whether it grants public access by itself) for one bucket constructor."""
    for name in ("block_public_access", "public_access_block_configuration"):
        node = kwarg(call, name)
        off = _bpa_off(node)
        if off and node is not None:
            yield off[0], node, off[1]
    node = kwarg(call, "public_read_access")
    if node is not None and literal(node, None) is True:
        yield "public_read_access=True", node, True
    node = kwarg(call, "access_control")
    if node is not None:
        attr = dotted(node).rsplit(".", 1)[-1]
        value = str_literal(node)
        if attr in _PUBLIC_ACL_ATTRS or value in _PUBLIC_ACLS:
            yield f"access_control={value or attr}", node, True


def _public_statement_source(stmt: ast.AST | None) -> str | None:
    """`PolicyStatement(principals=[AnyPrincipal()], ...)` allowing without a pinning condition."""
    if not isinstance(stmt, ast.Call) or call_name(stmt) != "PolicyStatement":
        return None
    if dotted(kwarg(stmt, "effect") or ast.Constant(None)).endswith("DENY"):
        return None
    principals = kwarg(stmt, "principals")
    public = any(
        isinstance(p, ast.Call)
        and (
            call_name(p) in ("AnyPrincipal", "StarPrincipal")
            or (call_name(p) == "ArnPrincipal" and str_literal(p.args[0] if p.args else None) == "*")
        )
        for p in (principals.elts if isinstance(principals, (ast.List, ast.Tuple)) else [])
    )
    if not public:
        return None
    conditions = kwarg(stmt, "conditions")
    if conditions is not None:
        text = ast.dump(conditions).lower()
        if not isinstance(conditions, ast.Dict) or any(k in text for k in _RESTRICTING_KEYS):
            return None
    listed = kwarg(stmt, "actions")
    actions = [str_literal(a) or "?" for a in (listed.elts if isinstance(listed, ast.List) else [])]
    return f"bucket policy allows {', '.join(actions) or 'actions'} to AnyPrincipal"


# ==== encryption-missing ====================================================================

_STORE_WORDS = {
    "S3": r"\bS3\b|\bbuckets?\b",
    "DynamoDB": r"dynamo",
    "SQS": r"\bSQS\b|\bqueues?\b",
    "SNS": r"\bSNS\b|\btopics?\b",
    "Kinesis": r"kinesis",
    "RDS": r"\bRDS\b|aurora|\bdatabases?\b",
    "EFS": r"\bEFS\b|file ?systems?",
}
_CMK_WORDS = re.compile(r"customer[- ]managed|\bCMKs?\b", re.IGNORECASE)


def _prompt(ctx: CheckContext) -> str:
    root = ctx.sample.task_root
    if not root:
        return ""
    try:
        return (Path(root) / "lib" / "PROMPT.md").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def _sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?])\s+|\n+", text) if s.strip()]


def _requirements(ctx: CheckContext) -> tuple[set[str], bool]:
    """(stores that must use a customer-managed key, whether SNS topics must be encrypted)."""
    if ctx.option("encryption-missing", "require_cmk", False):
        return set(_STORE_WORDS), True
    cmk: set[str] = set()
    sns = False
    prompt = _prompt(ctx) if ctx.option("encryption-missing", "read_prompt", True) else ""
    for sentence in _sentences(prompt):
        if _CMK_WORDS.search(sentence):
            cmk |= {
                store for store, words in _STORE_WORDS.items() if re.search(words, sentence, re.IGNORECASE)
            }
        if re.search(_STORE_WORDS["SNS"], sentence, re.IGNORECASE) and re.search(
            r"encrypt|\bKMS\b", sentence, re.I
        ):
            sns = True
    return cmk, sns or "SNS" in cmk


@check("encryption-missing", lenses=("source", "template"))
def encryption_missing(ctx: CheckContext) -> Iterator[Hit]:
    """Data stores left unencrypted where AWS does not encrypt by default.

    What it finds: RDS instances and clusters (also DocumentDB/Neptune) without storage
    encryption, EFS file systems, ElastiCache Redis without at-rest or in-transit encryption
    (single-node CacheClusters cannot encrypt at rest), OpenSearch domains without encryption
    at rest or node-to-node encryption, Kinesis streams and EBS volumes without encryption,
    DAX clusters without SSE (including an `SSESpecification` silently dropped to `{}`). SNS
    topics only when the task asks for encrypted topics. With the rubric option `require_cmk`
    (or, with `read_prompt`, a task prompt asking for customer-managed keys for a kind of store), stores of that
    kind without a customer-managed KMS key as well. S3, DynamoDB and SQS encrypt by default
    and are not flagged otherwise.

    Why it matters: unencrypted storage fails most compliance baselines and exposes data in
    snapshots, backups and disks that leave the service's control.

    Bad example:

        rds.DatabaseInstance(self, "Db", engine=rds.DatabaseInstanceEngine.postgres(...), vpc=vpc)

    Fix: set `storage_encrypted=True` (RDS), `at_rest_encryption_enabled`/`transit_encryption_enabled`
    (ElastiCache), `encryption_at_rest`/`node_to_node_encryption` (OpenSearch) and give stores a
    customer-managed KMS key where the requirement asks for one.
    """
    cmk, sns = _requirements(ctx)
    template_hits = list(_encryption_template(ctx, cmk, sns)) if ctx.has_template else []
    yield from reconcile(ctx, template_hits, _encryption_source(ctx, cmk, sns))


def _truthy(value: Any) -> bool | None:
    """True/False for a template boolean, None for an intrinsic (cannot tell)."""
    if is_intrinsic(value):
        return None
    return value is True or (isinstance(value, str) and value.lower() == "true")


def _encryption_template(ctx: CheckContext, cmk: set[str], sns: bool) -> Iterator[Hit]:
    for res in ctx.resources():
        problems = _template_problems(res, cmk, sns)
        if problems:
            key = template_key(res)
            yield Hit(
                f"{_kind(res.type)} {display_name(key)}: {'; '.join(problems)}",
                [res.evidence(value=p) for p in problems],
                key=key,
                lens="template",
            )


def _kind(rtype: str) -> str:
    return rtype.removeprefix("AWS::").replace("::", " ")


def _not_true(props: dict[str, Any], *path: str) -> bool:
    """True when the boolean at ``path`` is missing or false (not when it is an intrinsic)."""
    value: Any = props
    for part in path:
        if is_intrinsic(value):
            return False
        value = value.get(part) if isinstance(value, dict) else None
    return _truthy(value) is False


def _template_problems(res: Resource, cmk: set[str], sns: bool) -> list[str]:
    p, t = res.properties, res.type
    out: list[str] = []
    if t == "AWS::RDS::DBInstance":
        if "DBClusterIdentifier" in p or "SourceDBInstanceIdentifier" in p or "DBSnapshotIdentifier" in p:
            return []  # encryption comes from the cluster / source / snapshot
        if _not_true(p, "StorageEncrypted") and "KmsKeyId" not in p:
            out.append("StorageEncrypted is not set (RDS does not encrypt storage by default)")
        elif "RDS" in cmk and "KmsKeyId" not in p:
            out.append("encrypted with the AWS-managed key, not a customer-managed KMS key")
    elif t in ("AWS::RDS::DBCluster", "AWS::DocDB::DBCluster", "AWS::Neptune::DBCluster"):
        if (
            p.get("EngineMode") == "serverless"
            or "SnapshotIdentifier" in p
            or "SourceDBClusterIdentifier" in p
        ):
            return []
        if _not_true(p, "StorageEncrypted") and "KmsKeyId" not in p:
            out.append("StorageEncrypted is not set (clusters are not encrypted by default)")
        elif "RDS" in cmk and t == "AWS::RDS::DBCluster" and "KmsKeyId" not in p:
            out.append("encrypted with the AWS-managed key, not a customer-managed KMS key")
    elif t == "AWS::EFS::FileSystem":
        if _not_true(p, "Encrypted"):
            out.append("Encrypted is not set")
        elif "EFS" in cmk and "KmsKeyId" not in p:
            out.append("encrypted with the AWS-managed key, not a customer-managed KMS key")
    elif t == "AWS::ElastiCache::ReplicationGroup":
        if _not_true(p, "AtRestEncryptionEnabled"):
            out.append("AtRestEncryptionEnabled is not set")
        if _not_true(p, "TransitEncryptionEnabled"):
            out.append("TransitEncryptionEnabled is not set")
    elif t == "AWS::ElastiCache::CacheCluster":
        if str(p.get("Engine", "")).lower() in ("redis", "valkey"):
            out.append(
                "a single-node Redis CacheCluster cannot encrypt at rest (use a ReplicationGroup with "
                "AtRestEncryptionEnabled/TransitEncryptionEnabled)"
            )
    elif t in ("AWS::OpenSearchService::Domain", "AWS::Elasticsearch::Domain"):
        if _not_true(p, "EncryptionAtRestOptions", "Enabled"):
            out.append("EncryptionAtRestOptions.Enabled is not true")
        if _not_true(p, "NodeToNodeEncryptionOptions", "Enabled"):
            out.append("NodeToNodeEncryptionOptions.Enabled is not true")
    elif t == "AWS::Kinesis::Stream":
        enc = p.get("StreamEncryption")
        if enc is None:
            out.append("no StreamEncryption")
        elif (
            "Kinesis" in cmk
            and isinstance(enc, dict)
            and not is_intrinsic(enc)
            and enc.get("KeyId") in (None, "alias/aws/kinesis")
        ):
            out.append("encrypted with the AWS-managed key, not a customer-managed KMS key")
    elif t == "AWS::DAX::Cluster":
        sse = p.get("SSESpecification")
        if sse == {}:
            out.append("SSESpecification is empty (a setting given in the code was dropped), so SSE is off")
        elif _not_true(p, "SSESpecification", "SSEEnabled"):
            out.append("SSESpecification.SSEEnabled is not true (DAX does not encrypt by default)")
    elif t == "AWS::EC2::Volume":
        if _not_true(p, "Encrypted") and "SnapshotId" not in p:
            out.append("Encrypted is not set")
    elif t in ("AWS::EC2::Instance", "AWS::EC2::LaunchTemplate", "AWS::AutoScaling::LaunchConfiguration"):
        out.extend(_block_device_problems(p))
    elif t == "AWS::SNS::Topic":
        if (sns or "SNS" in cmk) and "KmsMasterKeyId" not in p:
            out.append(
                "no KmsMasterKeyId (SNS does not encrypt topics at rest by default; the task asks for it)"
            )
        elif "SNS" in cmk and p.get("KmsMasterKeyId") == "alias/aws/sns":
            out.append("encrypted with the AWS-managed key, not a customer-managed KMS key")
    elif t == "AWS::S3::Bucket" and "S3" in cmk and not _s3_cmk(p):
        out.append("no customer-managed KMS key (the task asks for one)")
    elif t == "AWS::DynamoDB::Table" and "DynamoDB" in cmk:
        sse = p.get("SSESpecification")
        if not (isinstance(sse, dict) and sse.get("KMSMasterKeyId")):
            out.append("no customer-managed KMS key (the task asks for one)")
    elif t == "AWS::SQS::Queue" and "SQS" in cmk and p.get("KmsMasterKeyId") in (None, "alias/aws/sqs"):
        out.append("no customer-managed KMS key (the task asks for one)")
    return out


def _block_device_problems(props: dict[str, Any]) -> list[str]:
    template_data = props.get("LaunchTemplateData")
    data: dict[str, Any] = template_data if isinstance(template_data, dict) else props
    out = []
    for bdm in as_list(data.get("BlockDeviceMappings")):
        ebs = bdm.get("Ebs") if isinstance(bdm, dict) else None
        if (
            isinstance(ebs, dict)
            and not is_intrinsic(ebs)
            and "SnapshotId" not in ebs
            and _not_true(ebs, "Encrypted")
        ):
            out.append(f"EBS volume {bdm.get('DeviceName', '?')} is not encrypted")
    return out


def _s3_cmk(props: dict[str, Any]) -> bool:
    enc = props.get("BucketEncryption")
    if not isinstance(enc, dict):
        return False
    for rule in as_list(enc.get("ServerSideEncryptionConfiguration")):
        default = rule.get("ServerSideEncryptionByDefault") if isinstance(rule, dict) else None
        if isinstance(default, dict) and default.get("KMSMasterKeyID") not in (None, "alias/aws/s3"):
            return True
    return False


def _encryption_source(ctx: CheckContext, cmk: set[str], sns: bool) -> Iterator[Hit]:
    for src in ctx.parsed():
        if src.tree is None or src.inline_of is not None or not is_cdk_file(src.tree):
            continue
        modules = _cdk_modules(src.tree)
        for call in iter_calls(src.tree):
            key = construct_call_id(call)
            if not key:
                continue
            problems = _source_problems(call, _module_of(call, modules), cmk, sns)
            if problems:
                yield Hit(
                    f"{call_name(call)} {construct_label(call) or key}: {'; '.join(problems)}",
                    [ctx.at(src, call, value=p) for p in problems],
                    key=key,
                )


def _cdk_modules(tree: ast.Module) -> dict[str, str]:
    """Local name -> aws_cdk service module (`rds`, `docdb`, ...) for module and class imports."""
    out: dict[str, str] = {}
    for node in walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module in ("aws_cdk", "aws_cdk.core"):
                for alias in node.names:
                    out[alias.asname or alias.name] = alias.name.removeprefix("aws_")
            elif node.module.startswith("aws_cdk."):
                service = node.module.split(".")[1].removeprefix("aws_")
                for alias in node.names:
                    out[alias.asname or alias.name] = service
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("aws_cdk.") and alias.asname:
                    out[alias.asname] = alias.name.split(".")[1].removeprefix("aws_")
    return out


def _module_of(call: ast.Call, modules: dict[str, str]) -> str:
    """The aws_cdk service a constructor comes from (`rds` for `rds.DatabaseInstance`)."""
    func = call.func
    if isinstance(func, ast.Attribute):
        base = dotted(func.value).rsplit(".", 1)[-1]
        return modules.get(base, base.removeprefix("aws_"))
    if isinstance(func, ast.Name):
        return modules.get(func.id, "")
    return ""


def _given(call: ast.Call, *names: str) -> bool:
    """True when any of the keywords is passed something other than None."""
    for name in names:
        node = kwarg(call, name)
        if node is not None and not (isinstance(node, ast.Constant) and node.value is None):
            return True
    return False


def _kw_true(call: ast.Call, name: str) -> bool | None:
    """True/False for a literal keyword, None when absent; a non-literal counts as True (cannot tell)."""
    if not _given(call, name):
        return None
    return literal(kwarg(call, name), "?") is not False


def _attr(call: ast.Call, name: str) -> str:
    """`StreamEncryption.UNENCRYPTED` -> 'UNENCRYPTED' for an enum-valued keyword, else ''."""
    node = kwarg(call, name)
    return dotted(node).rsplit(".", 1)[-1] if node is not None else ""


def _source_problems(call: ast.Call, module: str, cmk: set[str], sns: bool) -> list[str]:  # noqa: C901
    name = call_name(call)
    out: list[str] = []
    if name in ("DatabaseInstance", "DatabaseCluster") and module == "rds":
        if not _kw_true(call, "storage_encrypted") and not _given(call, "storage_encryption_key"):
            out.append("no storage_encrypted=True (RDS does not encrypt storage by default)")
        elif "RDS" in cmk and not _given(call, "storage_encryption_key"):
            out.append("no customer-managed storage_encryption_key (the task asks for one)")
    elif (
        name == "DatabaseCluster"
        and module in ("docdb", "neptune")
        and _kw_true(call, "storage_encrypted") is False
    ):
        out.append("storage_encrypted=False")
    elif name == "CfnDBInstance" and module == "rds":
        if _given(call, "db_cluster_identifier", "source_db_instance_identifier", "db_snapshot_identifier"):
            return []
        if not _kw_true(call, "storage_encrypted") and not _given(call, "kms_key_id"):
            out.append("no storage_encrypted=True (RDS does not encrypt storage by default)")
    elif name == "CfnDBCluster" and module in ("rds", "docdb", "neptune"):
        if str_literal(kwarg(call, "engine_mode")) == "serverless" or _given(call, "snapshot_identifier"):
            return []
        if not _kw_true(call, "storage_encrypted") and not _given(call, "kms_key_id"):
            out.append("no storage_encrypted=True")
    elif name == "FileSystem" and module == "efs" and _kw_true(call, "encrypted") is False:
        out.append("encrypted=False")
    elif name == "CfnFileSystem" and module == "efs" and not _kw_true(call, "encrypted"):
        out.append("no encrypted=True")
    elif name == "CfnReplicationGroup" and module == "elasticache":
        if not _kw_true(call, "at_rest_encryption_enabled"):
            out.append("no at_rest_encryption_enabled=True")
        if not _kw_true(call, "transit_encryption_enabled"):
            out.append("no transit_encryption_enabled=True")
    elif name == "CfnCacheCluster" and module == "elasticache":
        if (str_literal(kwarg(call, "engine")) or "").lower() in ("redis", "valkey"):
            out.append(
                "a single-node Redis CacheCluster cannot encrypt at rest (use a CfnReplicationGroup with "
                "at_rest_encryption_enabled/transit_encryption_enabled)"
            )
    elif name in ("Domain", "CfnDomain") and module in ("opensearchservice", "elasticsearch"):
        out.extend(_domain_source(call))
    elif name == "Stream" and module == "kinesis" and _attr(call, "encryption") == "UNENCRYPTED":
        out.append("encryption=StreamEncryption.UNENCRYPTED")
    elif name == "CfnStream" and module == "kinesis" and not _given(call, "stream_encryption"):
        out.append("no stream_encryption")
    elif name == "CfnCluster" and module == "dax":
        out.extend(_dax_source(call))
    elif name in ("Volume", "CfnVolume") and module == "ec2":
        if not _kw_true(call, "encrypted") and not _given(call, "snapshot_id"):
            out.append("no encrypted=True")
    elif name in ("Instance", "LaunchTemplate") and module == "ec2":
        out.extend(_ebs_source(call))
    elif name == "Topic" and module == "sns" and (sns or "SNS" in cmk) and not _given(call, "master_key"):
        out.append("no master_key (SNS does not encrypt topics at rest by default; the task asks for it)")
    elif name == "Bucket" and module == "s3" and "S3" in cmk:
        if not _given(call, "encryption_key") and _attr(call, "encryption") != "KMS":
            out.append("no customer-managed encryption_key (the task asks for one)")
    elif name in ("Table", "TableV2") and module == "dynamodb" and "DynamoDB" in cmk:
        enc = ast.dump(kwarg(call, "encryption") or ast.Constant(None)).lower()
        if not _given(call, "encryption_key") and "customer_managed" not in enc:
            out.append("no customer-managed encryption key (the task asks for one)")
    elif name == "Queue" and module == "sqs" and "SQS" in cmk:
        if not _given(call, "encryption_master_key") and _attr(call, "encryption") != "KMS":
            out.append("no customer-managed encryption_master_key (the task asks for one)")
    return out


def _domain_source(call: ast.Call) -> list[str]:
    out = []
    at_rest = kwarg(call, "encryption_at_rest") or kwarg(call, "encryption_at_rest_options")
    if at_rest is None or _disabled(at_rest):
        out.append("no encryption at rest (encryption_at_rest enabled=True)")
    n2n = kwarg(call, "node_to_node_encryption")
    n2n_opts = kwarg(call, "node_to_node_encryption_options")
    if (
        (n2n is None and n2n_opts is None)
        or (n2n is not None and literal(n2n, "?") is False)
        or (n2n_opts is not None and _disabled(n2n_opts))
    ):
        out.append("no node_to_node_encryption=True")
    return out


def _disabled(node: ast.AST) -> bool:
    """A props call or dict whose `enabled` is missing or False."""
    items: dict[str, ast.expr] | None = None
    if isinstance(node, ast.Call):
        items = {kw.arg: kw.value for kw in node.keywords if kw.arg}
    elif isinstance(node, ast.Dict):
        items = {str_literal(k) or "": v for k, v in zip(node.keys, node.values, strict=False)}
    if items is None:
        return False
    enabled = items.get("enabled")
    return enabled is None or literal(enabled, "?") is False


def _dax_source(call: ast.Call) -> list[str]:
    sse = kwarg(call, "sse_specification")
    if sse is None:
        return ["no sse_specification (DAX does not encrypt by default)"]
    if isinstance(sse, ast.Dict):
        keys = [str_literal(k) for k in sse.keys]
        if "sse_enabled" not in keys:
            shown = ", ".join(repr(k) for k in keys if k)
            return [
                f"sse_specification={{{shown}: ...}} uses a key CDK does not know (the Python field is "
                "sse_enabled), so it is dropped and SSE stays off"
            ]
        value = sse.values[keys.index("sse_enabled")]
        return ["sse_enabled=False"] if literal(value, "?") is False else []
    if isinstance(sse, ast.Call) and literal(kwarg(sse, "sse_enabled"), "?") in (False, None):
        return ["sse_specification without sse_enabled=True"]
    return []


def _ebs_source(call: ast.Call) -> list[str]:
    out = []
    for node in walk(call):
        if (
            isinstance(node, ast.Call)
            and call_name(node) == "ebs"
            and "BlockDeviceVolume" in dotted(node.func)
        ):
            if not _kw_true(node, "encrypted"):
                out.append("BlockDeviceVolume.ebs(...) without encrypted=True")
    return out

"""s3-public-access: s3 buckets opened to the public."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from typing import Any

from iacgrade.graders.analysis.cfn import as_list, is_intrinsic, policy_statements, ref_target
from iacgrade.graders.analysis.context import CheckContext, Hit
from iacgrade.graders.analysis.model import (
    construct_call_id,
    construct_label,
    infrastructure_files,
    key_text,
    merge_lenses,
    pretty,
    template_key,
)
from iacgrade.graders.analysis.pyast import call_name, dotted, iter_calls, kwarg, literal, str_literal
from iacgrade.graders.checks import CheckOptions, check
from iacgrade.graders.prompt import asks_public_bucket


class S3PublicAccessOptions(CheckOptions):
    prompt_waives: bool = True
    """When the task's prompt requires a publicly readable bucket (a static website), report at severity info."""


@check(
    "s3-public-access", lenses=("source", "template"), kinds=("cdk-python",), options=S3PublicAccessOptions
)
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

    When the task's prompt itself requires a bucket anyone may read ("an S3 bucket to host a
    static website with public read access"), the finding is kept as a note at severity info,
    quoting the prompt: the answer did what it was asked. The rubric option
    ``prompt_waives: false`` turns that off.

    Fix: keep `block_public_access=s3.BlockPublicAccess.BLOCK_ALL` and serve content through
    CloudFront with origin access control, or grant access to named principals only.
    """
    template_hits = list(_public_template(ctx)) if ctx.template.present else []
    asked = asks_public_bucket(ctx.prompt) if ctx.options(S3PublicAccessOptions).prompt_waives else None
    for hit in merge_lenses(ctx, template_hits, _public_source(ctx)):
        if asked and hit.severity != "info":
            hit.as_note(f"; as the task's prompt requires (“{asked}”), so not scored")
        yield hit


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
    buckets = {(b.stack, b.logical_id): b for b in ctx.template.resources("AWS::S3::Bucket")}
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
    for policy in ctx.template.resources("AWS::S3::BucketPolicy"):
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
            f"Bucket {key_text(key)} is open to the public: {'; '.join(why)}",
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
    for bindings in infrastructure_files(ctx):
        src = bindings.src
        found: dict[str, list[tuple[str, Any]]] = {}
        labels: dict[str, str] = {}
        opened: set[str] = set()
        for call in iter_calls(bindings.tree, "Bucket", "CfnBucket"):
            key = construct_call_id(call)
            if not key:
                continue
            labels[key] = construct_label(call) or key
            for why, node, grant in _bucket_reasons(call):
                found.setdefault(key, []).append((why, ctx.source.at(src, node, value=why)))
                if grant:
                    opened.add(key)
        for call in iter_calls(bindings.tree, "grant_public_access", "add_to_resource_policy"):
            if not isinstance(call.func, ast.Attribute):
                continue
            owner = bindings.owner(call.func.value)
            if not owner:
                continue
            if call.func.attr == "grant_public_access":
                found.setdefault(owner, []).append(
                    ("grant_public_access()", ctx.source.at(src, call, value="grant_public_access()"))
                )
                opened.add(owner)
                continue
            stmt: ast.expr | None = call.args[0] if call.args else kwarg(call, "permission")
            if isinstance(stmt, (ast.Name, ast.Attribute)):
                stmt = bindings.value_of(stmt)
            public = _public_statement_source(stmt)
            if public:
                found.setdefault(owner, []).append((public, ctx.source.at(src, call, value=public)))
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

"""Shared analysis from the former iam checks (to be folded into the model)."""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from iacgrade.graders.analysis.cfn import as_list, policy_statements, sub_text
from iacgrade.graders.analysis.context import CheckContext, Hit
from iacgrade.graders.analysis.model import (
    SourceIndex,
    best_matches,
    describe,
    display_name,
    index_sources,
    merge_lenses,
    method_receiver,
)
from iacgrade.graders.analysis.pyast import call_name, construct_id, dotted, kwarg, walk
from iacgrade.graders.analysis.source import SourceFile
from iacgrade.graders.analysis.template import Resource
from iacgrade.graders.analysis.tsast import Call, NewCall, TsFile, ts_files
from iacgrade.graders.models import Evidence

if TYPE_CHECKING:
    from tree_sitter import Node as TsNode

# Where policy documents sit in a template: (resource type, property path, identity policy?).
# Identity policies are attached to principals; resource policies carry their own Principal.
IDENTITY_DOCS: dict[str, tuple[str, ...]] = {
    "AWS::IAM::Policy": ("PolicyDocument",),
    "AWS::IAM::ManagedPolicy": ("PolicyDocument",),
    "AWS::IAM::RolePolicy": ("PolicyDocument",),
    "AWS::IAM::UserPolicy": ("PolicyDocument",),
    "AWS::IAM::GroupPolicy": ("PolicyDocument",),
}


INLINE_HOLDERS = ("AWS::IAM::Role", "AWS::IAM::User", "AWS::IAM::Group")


RESOURCE_DOCS: dict[str, tuple[str, ...]] = {
    "AWS::S3::BucketPolicy": ("PolicyDocument",),
    "AWS::SQS::QueuePolicy": ("PolicyDocument",),
    "AWS::SNS::TopicPolicy": ("PolicyDocument",),
    "AWS::KMS::Key": ("KeyPolicy",),
    "AWS::SecretsManager::ResourcePolicy": ("ResourcePolicy",),
    "AWS::ECR::Repository": ("RepositoryPolicyText",),
    "AWS::OpenSearchService::Domain": ("AccessPolicies",),
    "AWS::Elasticsearch::Domain": ("AccessPolicies",),
    "AWS::ApiGateway::RestApi": ("Policy",),
    "AWS::Logs::ResourcePolicy": ("PolicyDocument",),
    "AWS::Backup::BackupVault": ("AccessPolicy",),
    "AWS::EFS::FileSystem": ("FileSystemPolicy",),
    "AWS::DynamoDB::Table": ("ResourcePolicy", "PolicyDocument"),
    "AWS::Events::EventBusPolicy": (),
}


ADD_METHODS = (
    "add_to_policy",
    "add_to_role_policy",
    "add_to_principal_policy",
    "add_to_resource_policy",
    "add_statements",
    "add_to_principal_or_resource",
)


# "*" or "<service>:*"; service prefixes are lower case ("Update:*" is a stack-policy action).
WILDCARD_ACTION = re.compile(r"^(\*|[a-z0-9-]+:\*)$")


ENDPOINT = re.compile(r"V[Pp][Cc]Endpoint|add_(gateway|interface)_endpoint")


# =====================================================================================
# Statements from the template and from the source
# =====================================================================================


@dataclass
class CfnStatement:
    holder: Resource
    owners: list[Resource]
    identity: bool
    statement: dict[str, Any]

    @property
    def allow(self) -> bool:
        return self.statement.get("Effect") != "Deny"

    @property
    def actions(self) -> list[str]:
        return [a for a in as_list(self.statement.get("Action")) if isinstance(a, str)]

    @property
    def resources(self) -> list[Any]:
        return as_list(self.statement.get("Resource"))

    @property
    def account_root_kms(self) -> bool:
        """The standard key-policy statement: ``kms:*`` for the account root."""
        principal = self.statement.get("Principal")
        aws = principal.get("AWS") if isinstance(principal, dict) else None
        # The account itself: `arn:...:root` (a literal, an Fn::Join, an Fn::Sub with
        # ${AWS::AccountId}) or the bare account id (`!Ref AWS::AccountId`).
        roots = [p for v in as_list(aws) for p in texts(v) if p.endswith(":root")] + [
            v for v in as_list(aws) if v == {"Ref": "AWS::AccountId"}
        ]
        return bool(roots) and all(a.lower() == "kms:*" for a in self.actions if WILDCARD_ACTION.match(a))

    def where(self) -> str:
        attached = [o for o in self.owners if o is not self.holder]
        if attached:
            names = ", ".join(display_name(o) for o in attached[:3])
            return f"{describe(self.holder)}, attached to {names}"
        return describe(self.holder)


def texts(value: Any) -> Iterator[str]:
    """A string, an Fn::Sub's template, or a Fn::Join's parts with intrinsics shown as ``${Ref}`` /
    ``${Id.Attr}``."""
    if isinstance(value, str):
        yield value
    elif sub_text(value) is not None:
        yield str(sub_text(value))
    elif isinstance(value, dict) and "Fn::Join" in value:
        parts = value["Fn::Join"]
        if isinstance(parts, list) and len(parts) == 2 and isinstance(parts[1], list):
            sep = parts[0] if isinstance(parts[0], str) else ""
            yield sep.join(token(p) for p in parts[1])


def token(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and isinstance(value.get("Ref"), str):
        return "${" + value["Ref"] + "}"
    if isinstance(value, dict) and isinstance(value.get("Fn::GetAtt"), list):
        return "${" + ".".join(str(p) for p in value["Fn::GetAtt"]) + "}"
    return "${...}"


def template_statements(ctx: CheckContext) -> Iterator[CfnStatement]:
    by_id = {(r.stack, r.logical_id): r for r in ctx.template.resources()}
    for res in ctx.template.resources():
        if res.type in IDENTITY_DOCS:
            owners = [res, *attached_policies(res, by_id)]
            for stmt in policy_statements(policy_document(res.properties, IDENTITY_DOCS[res.type])):
                yield CfnStatement(res, owners, True, stmt)
        elif res.type in INLINE_HOLDERS:
            for policy in as_list(res.properties.get("Policies")):
                if isinstance(policy, dict):
                    for stmt in policy_statements(policy_document(policy, ("PolicyDocument",))):
                        yield CfnStatement(res, [res], True, stmt)
        if res.type in RESOURCE_DOCS:
            path = RESOURCE_DOCS[res.type]
            doc = {"Statement": res.properties} if not path else policy_document(res.properties, path)
            for stmt in policy_statements(doc):
                yield CfnStatement(res, [res], False, stmt)


def policy_document(props: dict[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = props
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    if isinstance(value, str):  # AWS::Logs::ResourcePolicy and a few others take JSON text
        try:
            value = json.loads(value)
        except ValueError:
            return None
    return value


def attached_policies(res: Resource, by_id: dict[tuple[str, str], Resource]) -> list[Resource]:
    """The roles/users/groups an AWS::IAM::Policy is attached to (by Ref)."""
    out = []
    for key in ("Roles", "Users", "Groups"):
        for ref in as_list(res.properties.get(key)):
            if isinstance(ref, dict) and isinstance(ref.get("Ref"), str):
                target = by_id.get((res.stack, ref["Ref"]))
                if target is not None:
                    out.append(target)
    return out


@dataclass
class SrcStatement:
    """A policy statement the source writes (PolicyStatement call or a JSON-shaped dict).

    For Python, ``idx`` is the file's index and the nodes are its AST; for TypeScript and
    JavaScript, ``file`` is the file and the "nodes" are line numbers.
    """

    idx: SourceIndex | None
    node: ast.AST | int
    deny: bool = False
    actions: list[tuple[str, ast.AST | int]] = field(default_factory=list)
    star_resource: ast.AST | int | None = None
    principals: bool = False
    account_root: bool = False
    conditions: bool = False
    owner: str | None = None
    file: SourceFile | None = None

    @property
    def src(self) -> SourceFile:
        if self.idx is not None:
            return self.idx.src
        assert self.file is not None
        return self.file

    @property
    def line(self) -> int:
        return self.node if isinstance(self.node, int) else getattr(self.node, "lineno", 0)

    def shown(self, limit: int = 100) -> str:
        """The statement as written (its first line, for TypeScript), on one line."""
        if self.idx is not None and not isinstance(self.node, int):
            return self.idx.segment(self.node, limit)
        lines = self.src.text.splitlines()
        text = lines[self.line - 1].strip() if 0 < self.line <= len(lines) else ""
        return text if len(text) <= limit else text[: limit - 1] + "…"


def source_statements(ctx: CheckContext) -> list[SrcStatement]:
    """The IAM statements the answer's CDK files write, found once per answer."""
    return ctx.source.view("iam", lambda: _source_statements(ctx))


def _source_statements(ctx: CheckContext) -> list[SrcStatement]:
    out: list[SrcStatement] = []
    for idx in index_sources(ctx.source.parsed()):
        if not idx.imports_cdk:
            continue  # Lambda handlers build policy-shaped dicts (authorizer responses) too
        for call in idx.calls("PolicyStatement"):
            out.append(from_policy_statement(idx, call))
        for call in idx.calls("add_to_principal"):
            if dotted(call.func).endswith("Grant.add_to_principal"):
                out.append(from_grant(idx, call))
        for node in walk(idx.tree):
            if isinstance(node, ast.Dict) and is_statement_dict(node):
                out.append(from_dict(idx, node))
    kept = []
    for stmt in out:
        assert stmt.idx is not None and not isinstance(stmt.node, int)
        if is_dead(stmt.idx, stmt.node):
            continue  # built but never attached to anything: it grants nothing
        owner = owner_call_of(stmt.idx, stmt.node)
        if owner is not None and ENDPOINT.search(call_name(owner)):
            continue  # a VPC endpoint policy filters traffic; AWS's default one allows "*"
        if stmt.owner is None:
            stmt.owner = construct_id(owner) if owner is not None else None
        kept.append(stmt)
    for tsf in ts_files(ctx.source):
        if tsf.imports_cdk():
            kept += ts_statements(tsf)
    return kept


# ---- TypeScript / JavaScript ---------------------------------------------------------------------
# Calls that attach a statement to the construct they are called on (`fn.addToRolePolicy(s)`).
_TS_ATTACH = re.compile(r"^addTo\w*Policy$|^addStatements$")


def ts_statements(tsf: TsFile) -> list[SrcStatement]:
    """The IAM statements a TypeScript/JavaScript file writes: `new PolicyStatement({...})` (with
    its later `addActions`/`addResources`/... calls), `PolicyStatement.fromJson({...})` and
    JSON-shaped statement objects (`{ Effect, Action, Resource }`), each with the construct it
    is attached to; statements of VPC endpoint policies are left out."""
    out: list[tuple[SrcStatement, TsNode]] = []
    statements = [new for new in tsf.news() if new.cls == "PolicyStatement"]
    steps = _ts_calls_on_made(tsf) if statements else {}
    for new in statements:
        stmt = _ts_from_props(tsf, new.node, tsf.props(new.arg(0)), _TS_STATEMENT_KEYS)
        _ts_steps(tsf, steps.get(new.node.id, []), stmt)
        out.append((stmt, new.node))
    for obj in tsf.nodes("object"):
        props = tsf.props(obj)
        if "Action" in props and props.keys() & {"Effect", "Resource"}:
            out.append((_ts_from_props(tsf, obj, props, _JSON_STATEMENT_KEYS), obj))
    kept = []
    for stmt, node in out:
        owner = _ts_owner(tsf, node)
        if owner is not None and ENDPOINT.search(owner.qualified):
            continue  # a VPC endpoint policy filters traffic; AWS's default one allows "*"
        id_node = owner.arg(1) if owner is not None else None
        if id_node is not None:
            stmt.owner = tsf.construct_id(id_node)
        kept.append(stmt)
    return kept


# (effect, actions, resources, conditions, principals) as each shape spells them
_TS_STATEMENT_KEYS = ("effect", "actions", "resources", "conditions", "principals")
_JSON_STATEMENT_KEYS = ("Effect", "Action", "Resource", "Condition", "Principal")


def _ts_from_props(
    tsf: TsFile, node: TsNode, props: dict[str, TsNode], keys: tuple[str, ...]
) -> SrcStatement:
    effect, actions, resources, conditions, principals = (props.get(k) for k in keys)
    stmt = SrcStatement(None, tsf.line(node), file=tsf.src)
    if effect is not None:
        stmt.deny = (tsf.member(effect) or "").endswith("DENY") or tsf.literal(effect) == "Deny"
    stmt.actions = _ts_strings(tsf, actions)
    stmt.star_resource = next((line for text, line in _ts_strings(tsf, resources) if text == "*"), None)
    stmt.conditions = conditions is not None
    stmt.principals = principals is not None
    stmt.account_root = principals is not None and bool(
        re.search(r"AccountRootPrincipal|AccountPrincipal|:root['\"`]", tsf.text(principals))
    )
    return stmt


def _ts_strings(tsf: TsFile, node: TsNode | None) -> list[tuple[str, ast.AST | int]]:
    """Literal strings of a string or array value (names resolved), with their lines."""
    if node is None:
        return []
    value = tsf.resolve(node)
    text = tsf.string(value)
    if text is not None:
        return [(text, tsf.line(node))]
    if value.type == "array":
        return [pair for item in value.named_children for pair in _ts_strings(tsf, item)]
    return []


def _ts_calls_on_made(tsf: TsFile) -> dict[int, list[Call]]:
    """The method calls of the file by the `new` their receiver stands for (its node's id), read
    once for all of the file's statements."""
    out: dict[int, list[Call]] = {}
    for call in tsf.calls():
        made = tsf.constructed(call.receiver) if call.receiver is not None else None
        if made is not None and call.method is not None:
            out.setdefault(made.node.id, []).append(call)
    return out


def _ts_steps(tsf: TsFile, calls: list[Call], stmt: SrcStatement) -> None:
    """A statement built step by step: `const s = new PolicyStatement(); s.addActions("s3:*")`;
    ``calls`` are the method calls on that statement."""
    for call in calls:
        method, items = call.method or "", call.args
        if method == "addActions":
            stmt.actions += [pair for item in items for pair in _ts_strings(tsf, item)]
        elif method == "addResources":
            star = [line for item in items for text, line in _ts_strings(tsf, item) if text == "*"]
            stmt.star_resource = stmt.star_resource or (star[0] if star else None)
        elif method == "addAllResources":
            stmt.star_resource = stmt.star_resource or tsf.line(call.node)
        elif method in ("addCondition", "addConditions"):
            stmt.conditions = True
        elif method.startswith("add") and "Principal" in method:
            stmt.principals = True
            stmt.account_root = stmt.account_root or method == "addAccountRootPrincipal"


def _ts_owner(tsf: TsFile, node: TsNode) -> NewCall | None:
    """The construct a statement is attached to: the receiver of `x.addToRolePolicy(stmt)` (the
    statement written there or through a name), else the construct whose props hold it."""
    uses = [node]
    decl = node.parent
    if decl is not None and decl.type == "variable_declarator" and (name := decl.child_by_field_name("name")):
        uses += [i for i in tsf.nodes("identifier") if tsf.text(i) == tsf.text(name) and i != name]
    for use in uses:
        args = use.parent
        call = (
            tsf.call(args.parent) if args is not None and args.type == "arguments" and args.parent else None
        )
        if call is not None and call.receiver is not None and _TS_ATTACH.match(call.method or ""):
            made = tsf.constructed(call.receiver)
            if made is not None:
                return made
    for anc in tsf.ancestors(node):
        made = tsf.new_call(anc)
        if made is not None and made.cls != "PolicyStatement" and made.arg(1) is not None:
            return made
    return None


def statement_strings(idx: SourceIndex, node: ast.AST | None) -> list[tuple[str, ast.AST | int]]:
    """Literal strings of a str / list / tuple value (names resolved), with their nodes."""
    if node is None:
        return []
    value = idx.resolve(node) if isinstance(node, ast.expr) else node
    if isinstance(value, ast.Constant) and isinstance(value.value, str):
        return [(value.value, node)]
    if isinstance(value, ast.List | ast.Tuple):
        out: list[tuple[str, ast.AST | int]] = []
        for elt in value.elts:
            out += statement_strings(idx, elt)
        return out
    return []


def from_policy_statement(idx: SourceIndex, call: ast.Call) -> SrcStatement:
    stmt = SrcStatement(idx, call)
    effect = kwarg(call, "effect")
    stmt.deny = effect is not None and dotted(idx.resolve(effect)).endswith("DENY")
    stmt.actions = statement_strings(idx, kwarg(call, "actions"))
    stmt.star_resource = next(
        (n for s, n in statement_strings(idx, kwarg(call, "resources")) if s == "*"), None
    )
    stmt.conditions = kwarg(call, "conditions") is not None
    principals = kwarg(call, "principals")
    stmt.principals = principals is not None
    stmt.account_root = principals is not None and names_account_root(idx, principals)
    # statement built step by step: stmt = PolicyStatement(); stmt.add_actions("s3:*"); ...
    parent = idx.parent(call)
    if (
        isinstance(parent, ast.Assign)
        and len(parent.targets) == 1
        and isinstance(parent.targets[0], ast.Name)
    ):
        for use in idx.usages(parent.targets[0].id, idx.scope_of(call)):
            method = idx.parent(use)
            caller = idx.parent(method) if isinstance(method, ast.Attribute) else None
            if not isinstance(caller, ast.Call) or not isinstance(method, ast.Attribute):
                continue
            if method.attr == "add_actions":
                for arg in caller.args:
                    stmt.actions += statement_strings(idx, arg)
            elif method.attr == "add_resources":
                stmt.star_resource = stmt.star_resource or next(
                    (a for a in caller.args if isinstance(a, ast.Constant) and a.value == "*"), None
                )
            elif method.attr in ("add_condition", "add_conditions"):
                stmt.conditions = True
            elif method.attr == "add_all_resources":
                stmt.star_resource = stmt.star_resource or caller
            elif method.attr.startswith("add_") and "principal" in method.attr:
                stmt.principals = True
                stmt.account_root = stmt.account_root or method.attr == "add_account_root_principal"
    return stmt


def from_grant(idx: SourceIndex, call: ast.Call) -> SrcStatement:
    stmt = SrcStatement(idx, call)
    stmt.actions = statement_strings(idx, kwarg(call, "actions"))
    stmt.star_resource = next(
        (n for s, n in statement_strings(idx, kwarg(call, "resource_arns")) if s == "*"), None
    )
    grantee = kwarg(call, "grantee")
    stmt.owner = idx.construct_id_of(grantee) if grantee is not None else None
    return stmt


def is_statement_dict(node: ast.Dict) -> bool:
    keys = {k.value for k in node.keys if isinstance(k, ast.Constant)}
    return "Action" in keys and bool(keys & {"Effect", "Resource"})


def from_dict(idx: SourceIndex, node: ast.Dict) -> SrcStatement:
    stmt = SrcStatement(idx, node)
    items = {k.value: v for k, v in zip(node.keys, node.values, strict=False) if isinstance(k, ast.Constant)}
    effect = statement_strings(idx, items.get("Effect"))
    stmt.deny = bool(effect) and effect[0][0] == "Deny"
    stmt.actions = statement_strings(idx, items.get("Action"))
    stmt.star_resource = next((n for s, n in statement_strings(idx, items.get("Resource")) if s == "*"), None)
    stmt.conditions = "Condition" in items
    principal = items.get("Principal")
    stmt.principals = principal is not None
    if principal is not None:
        stmt.account_root = names_account_root(idx, principal)
    return stmt


def names_account_root(idx: SourceIndex, node: ast.AST) -> bool:
    """``AccountRootPrincipal()``, ``AccountPrincipal(...)`` or an ARN ending in ``:root``."""
    for sub in walk(node):
        if isinstance(sub, ast.Call) and call_name(sub) in ("AccountRootPrincipal", "AccountPrincipal"):
            return True
        if isinstance(sub, ast.Constant) and isinstance(sub.value, str) and sub.value.endswith(":root"):
            return True
    return False


def is_dead(idx: SourceIndex, node: ast.AST, depth: int = 0) -> bool:
    """The value is stored in a variable or attribute nobody reads, or returned by a helper
    whose results all are (or that nobody calls)."""
    stmt = next((a for a in idx.ancestors(node) if isinstance(a, ast.stmt)), None)
    if depth > 3 or stmt is None:
        return False
    if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
        target = stmt.targets[0]
        if isinstance(target, ast.Name):
            return next(idx.usages(target.id, idx.scope_of(stmt)), None) is None
        if (
            isinstance(target, ast.Attribute)
            and isinstance(target.value, ast.Name)
            and target.value.id == "self"
        ):
            return not idx.reads_attribute(target.attr)
        return False
    if isinstance(stmt, ast.Return):
        func = idx.scope_of(stmt)
        if isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef):
            return all(is_dead(idx, call, depth + 1) for call in idx.calls(func.name))
    return False


def owner_call_of(idx: SourceIndex, node: ast.AST, depth: int = 0) -> ast.Call | None:
    """The construct a statement ends up in: the role/function/bucket it is added to, or the
    Role/Policy/ManagedPolicy it is passed to; followed through a variable or a helper's return."""
    if depth > 3:
        return None
    for anc in idx.ancestors(node):
        if isinstance(anc, ast.Call):
            receiver = method_receiver(anc, *ADD_METHODS)
            if receiver is not None:
                return idx.construct_call(receiver)
            if construct_id(anc) is not None:
                return anc
        if isinstance(anc, ast.stmt):
            return owner_through(idx, anc, depth)
    return None


def owner_through(idx: SourceIndex, stmt: ast.stmt, depth: int) -> ast.Call | None:
    """Follow ``x = <statement>`` to the uses of x, and ``return <statement>`` to the callers."""
    uses: list[ast.AST] = []
    if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
        uses = list(idx.usages(stmt.targets[0].id, idx.scope_of(stmt)))
    elif isinstance(stmt, ast.Return):
        func = idx.scope_of(stmt)
        if isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef):
            uses = list(idx.calls(func.name))
    for use in uses:
        found = owner_call_of(idx, use, depth + 1)
        if found is not None:
            return found
    return None


# =====================================================================================
# Grouping per policy holder and merging the lenses
# =====================================================================================


@dataclass
class Group:
    """What one check flags in one policy holder: one finding."""

    key: str
    message: str
    flagged: set[str]
    evidence: list[Evidence]
    owners: list[Resource] = field(default_factory=list)


def merge(
    ctx: CheckContext,
    cfn_groups: list[Group],
    src_items: list[tuple[SrcStatement, list[str]]],
    describe_source: Callable[[str, list[tuple[SrcStatement, list[str]]]], str],
    lens_check: str,
    corroborated: Callable[[Group], bool],
) -> Iterator[Hit]:
    """Template groups first (they decide when a template exists), then source evidence.

    A source statement joins the template group whose holder matches its owner construct and
    that flags one of the same actions; failing that, the only group that flags that action.
    With a template, a source statement that joins no group is dropped (the stack is not
    instantiated, or the statement never reached the template), and a template group no source
    statement joins is kept only when ``corroborated`` says the answer asked for it: CDK writes
    statements of its own (ECS Exec, tracing, VPC access) that are not the answer's choice.
    Without a template, source statements are grouped by owner and reported on their own.
    """
    if ctx.template.present:
        statements: dict[int, tuple[SrcStatement, list[str]]] = {}
        source_hits = []
        for stmt, flagged in src_items:
            hit = Hit("", statement_evidence(ctx, [(stmt, flagged)]), key=stmt.owner)
            statements[id(hit)] = (stmt, flagged)
            source_hits.append(hit)

        def joins(hit: Hit) -> list[str]:
            group = join(*statements[id(hit)], cfn_groups)
            return [group.key] if group is not None else []

        yield from holder_hits(ctx, cfn_groups, source_hits, joins, corroborated)
        return
    by_key: dict[str, list[tuple[SrcStatement, list[str]]]] = {}
    for stmt, flagged in src_items:
        where = stmt.owner or f"{stmt.src.path}:{stmt.line}"
        by_key.setdefault(f"{lens_check}:{where}", []).append((stmt, flagged))
    for key, items in by_key.items():
        yield Hit(describe_source(key, items), statement_evidence(ctx, items), key=key, lens="source")


def holder_hits(
    ctx: CheckContext,
    cfn_groups: list[Group],
    source_hits: list[Hit],
    joins: Callable[[Hit], list[str]],
    keep: Callable[[Group], bool],
) -> Iterator[Hit]:
    """The lens merger over policy holders: a template group no source hit joins is kept only
    when ``keep`` says so; joined source hits carry their group's message."""
    groups = {g.key: g for g in cfn_groups}
    template = [Hit(g.message, g.evidence, key=g.key, lens="template") for g in cfn_groups]
    merged = merge_lenses(ctx, template, source_hits, joins=joins)
    joined = {h.key for h in merged if h.lens == "source"}
    for hit in merged:
        if hit.lens == "source":
            yield replace(hit, message=groups[hit.key or ""].message)
        elif hit.key in joined or keep(groups[hit.key or ""]):
            yield hit


def statement_evidence(ctx: CheckContext, items: list[tuple[SrcStatement, list[str]]]) -> list[Evidence]:
    """Where source statements grant their flagged actions (or the statements, when none is shown)."""
    evidence = [
        ctx.source.at(s.src, n, value=a) for s, flagged in items for a, n in s.actions if a in flagged
    ]
    return evidence or [ctx.source.at(s.src, s.node) for s, _ in items]


def answer_strings(ctx: CheckContext) -> set[str]:
    """Every string literal of the answer's infrastructure code, lower-cased (for TypeScript and
    JavaScript, which have no syntax tree here, the quoted literals of their text; for YAML and
    JSON, a CloudFormation template's own text, its scalars: a template the answer wrote is
    the answer's code, where a synthesized one is not)."""
    found = {text.lower() for idx in index_sources(ctx.source.parsed()) for text in idx.strings}
    for f in ctx.files:
        if f.language in ("typescript", "javascript"):
            found |= {
                next(g for g in m.groups() if g is not None).lower() for m in _JS_STRING.finditer(f.content)
            }
        elif f.language in ("yaml", "json"):
            found |= {token.lower() for token in _DATA_SCALAR.findall(f.content)}
    return found


# A YAML or JSON scalar as it stands in the text: quotes, commas, brackets and braces around it
# left out, so `- logs:PutLogEvents`, `Action: '*'` and `"s3:*",` give the action as written.
_DATA_SCALAR = re.compile(r"[^\s'\",\[\]{}]+")


_JS_STRING = re.compile(r"'([^'\\\n]*)'|\"([^\"\\\n]*)\"|`([^`\\$]*)`")


def join(stmt: SrcStatement, flagged: list[str], groups: list[Group]) -> Group | None:
    wanted = {a.lower() for a in flagged}
    sharing = [g for g in groups if wanted & {a.lower() for a in g.flagged}]
    if stmt.owner:
        owners = [r for g in sharing for r in g.owners]
        best = {id(r) for r in best_matches(owners, stmt.owner)}
        matched = [g for g in sharing if any(id(r) in best for r in g.owners)]
        if matched:
            return min(matched, key=lambda g: len(g.key))
    return sharing[0] if len(sharing) == 1 else None


def quote(actions: list[str] | set[str]) -> str:
    return ", ".join(f"`{a}`" for a in sorted(actions))


def source_where(key: str, items: list[tuple[SrcStatement, list[str]]]) -> str:
    owner = items[0][0].owner
    lines = sorted({s.line for s, _ in items})
    at = f"{items[0][0].src.path}:{','.join(map(str, lines))}"
    return f"the statement{'s' if len(lines) > 1 else ''} at {at}" + (f" (added to {owner})" if owner else "")

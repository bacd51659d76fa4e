"""The analysis model's one rule for "this source construct is that template resource", and the
one lens merger that turns template hits and source hits into findings.

Keys. A template resource is keyed by the construct that made it (:func:`template_key`): the
last component of its CDK path, or, when the template has no path metadata (CDK without
metadata, a CloudFormation answer), its logical id without CDK's hash suffix, marked with
``~``. A source construct is keyed by its id as written, ``{}`` standing for the variable parts
of an f-string (``Orders{}``).

Matching (:func:`match_level`). A source id *names* a resource (level 3) when it is the
resource's own construct id, or, without path metadata, when the alphanumerics of the id end its
logical id (CDK builds logical ids from the path, alphanumerics only). Lower levels say the
resource sits *inside* the named construct (``fn.role`` is inside ``fn``): 2 for another
component of its path or a logical id that starts with the id, 1 for a logical id that contains
it. :func:`names` is level 3 on a key; :func:`best_matches` keeps the resources at the best
level found.

Merging (:func:`merge_lenses`). Template hits come first and judge when a template exists; a
source hit joins (takes the key of) every template hit whose key its construct names, so the
runner merges both lenses into one finding. :func:`one_finding` is the same merge for checks
that report every offending item in a single finding.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

from graders.analysis.context import CheckContext, Hit, Resource
from graders.models import Evidence, Lens

# CDK appends an 8-character hash to logical ids of constructs below the stack's top level.
_LOGICAL_HASH = re.compile(r"[0-9A-F]{8}$")
# Prefix of keys derived from a logical id (no CDK path metadata in the template).
_FROM_LOGICAL_ID = "~"
_NOT_ALNUM = re.compile(r"[^A-Za-z0-9]")


# ---- keys ---------------------------------------------------------------------------------
def logical_stem(logical_id: str) -> str:
    """A logical id without CDK's hash suffix."""
    if len(logical_id) > 8 and _LOGICAL_HASH.search(logical_id):
        return logical_id[:-8]
    return logical_id


def template_key(res: Resource) -> str:
    """The construct a resource belongs to: its construct id, or ``~`` + its logical id's stem."""
    if res.construct_id:
        return res.construct_id
    return _FROM_LOGICAL_ID + logical_stem(res.logical_id)


def key_text(key: str) -> str:
    """A template key as shown in messages (without the ``~`` mark)."""
    return key.removeprefix(_FROM_LOGICAL_ID)


def pretty(key: str) -> str:
    """A source key as shown in messages: ``Api{…}`` for an f-string id."""
    return key.replace("{}", "{…}")


def construct_name(res: Resource) -> str:
    """The name of the construct a resource belongs to, as shown in messages."""
    return key_text(template_key(res))


def resource_label(res: Resource) -> str:
    """``Name (LogicalId)``, or the logical id alone when it is the name."""
    name = construct_name(res)
    return name if name == res.logical_id else f"{name} ({res.logical_id})"


def display_name(resource: Resource) -> str:
    """A readable name for a template resource: its CDK path below the stack, or its logical
    id without CDK's hash suffix when the template has no path metadata."""
    ids = resource.construct_ids
    return "/".join(ids) if ids else (logical_stem(resource.logical_id) or resource.logical_id)


def describe(resource: Resource) -> str:
    """``Path/Below/Stack (LogicalId)``, or the logical id alone when the name adds nothing."""
    name = display_name(resource)
    return resource.logical_id if name == resource.logical_id else f"{name} ({resource.logical_id})"


# ---- matching -----------------------------------------------------------------------------
def id_regex(cid: str) -> re.Pattern[str]:
    """A construct id as the source gives it; ``{}`` (an f-string part) matches anything."""
    return re.compile("^" + ".*".join(re.escape(p) for p in cid.split("{}")) + "$")


def _alnum_pattern(cid: str) -> str:
    """The id as it appears in a logical id: alphanumerics only, ``{}`` matching anything."""
    return ".*".join(re.escape(_NOT_ALNUM.sub("", p)) for p in cid.split("{}"))


def _names_anything(cid: str) -> bool:
    """Fewer than two literal alphanumerics (``{}``, ``{}-{}``, ``A``) name every construct."""
    return len(_NOT_ALNUM.sub("", cid.replace("{}", ""))) < 2


def names(source_id: str | None, key: str) -> bool:
    """True when a source construct id names the construct of template key ``key``."""
    if not source_id:
        return False
    if source_id == key:
        return True
    if _names_anything(source_id):
        return False
    if key.startswith(_FROM_LOGICAL_ID):
        # Logical ids drop every non-alphanumeric character and concatenate the whole path.
        return re.fullmatch(".*" + _alnum_pattern(source_id), key[1:]) is not None
    return id_regex(source_id).match(key) is not None


def match_level(resource: Resource, cid: str) -> int:
    """How well a template resource matches a source construct id: 3 it is the construct, 2 or 1
    it sits inside it (a path component / a logical-id prefix; a logical id containing it), 0 no."""
    if names(cid, template_key(resource)):
        return 3
    if _names_anything(cid):
        return 0
    if resource.cdk_path:
        pattern = id_regex(cid)
        return 2 if any(pattern.match(part) for part in resource.construct_ids) else 0
    stem = logical_stem(resource.logical_id)
    loose = _alnum_pattern(cid)
    if re.match(loose, stem):
        return 2
    return 1 if re.search(loose, stem) else 0


def best_matches(resources: list[Resource], cid: str) -> list[Resource]:
    """The resources that match ``cid`` at the best level found (empty when none does)."""
    scored = [(match_level(r, cid), r) for r in resources]
    top = max((s for s, _ in scored), default=0)
    return [r for s, r in scored if s == top and s > 0]


# ---- merging the lenses -------------------------------------------------------------------
def merge_lenses(
    ctx: CheckContext,
    template_hits: Iterable[Hit],
    source_hits: Iterable[Hit],
    *,
    keep_unmatched: bool = False,
) -> list[Hit]:
    """Template hits first (the template is exact), then source hits re-keyed to join them.

    A source hit joins every template hit whose key its key names. Without a template the source lens decides alone. With one, a
    source hit that joins nothing is dropped (the template saw the construct and found it fine,
    or it is never instantiated) unless ``keep_unmatched``.
    """
    if not ctx.has_template:
        return list(source_hits)
    template = list(template_hits)
    keys = list(dict.fromkeys(h.key for h in template if h.key))
    out = list(template)
    for hit in source_hits:
        joined = [key for key in keys if names(hit.key, key)]
        out.extend(replace(hit, key=key) for key in joined)
        if not joined and keep_unmatched:
            out.append(hit)
    return out


@dataclass
class Item:
    """One offending resource or construct: its key (template key or source id), how to name
    it, where."""

    key: str | None
    text: str
    evidence: Evidence


def one_finding(
    ctx: CheckContext,
    key: str,
    template_items: list[Item],
    source_items: list[Item],
    message: Callable[[list[Item]], str],
) -> list[Hit]:
    """One finding listing the items, merged as :func:`merge_lenses` does: the template judges
    when there is one and the source adds file:line evidence for the items it also sees;
    without a template the source judges alone. ``message`` builds the message from the judged
    items."""
    judged = template_items if ctx.has_template else source_items
    if not judged:
        return []
    lens: Lens = "template" if ctx.has_template else "source"
    hits = [Hit(message(judged), [i.evidence for i in judged], key=key, lens=lens)]
    if ctx.has_template:
        merged = merge_lenses(
            ctx,
            [Hit("", [], key=i.key, lens="template") for i in template_items],
            [Hit("", [i.evidence], key=i.key) for i in source_items],
        )
        extra: list[Evidence] = []
        for hit in merged:
            extra += [ev for ev in hit.evidence if hit.lens == "source" and ev not in extra]
        if extra:
            hits.append(Hit(hits[0].message, extra, key=key, lens="source"))
    return hits


def names_list(labels: Iterable[str], limit: int = 6) -> str:
    """`A, B, C and 4 more`."""
    uniq = list(dict.fromkeys(labels))
    if len(uniq) <= limit:
        return ", ".join(uniq)
    return ", ".join(uniq[:limit]) + f" and {len(uniq) - limit} more"

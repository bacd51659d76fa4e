"""dlq-missing: asynchronous consumers without a dead-letter queue or on-failure destination."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from iacgrade.graders.analysis.cfn import ref_target, refs_within
from iacgrade.graders.analysis.context import CheckContext, Hit
from iacgrade.graders.analysis.functions import FUNCTION_CALLS, workload_functions
from iacgrade.graders.analysis.model import (
    AnswerModel,
    Instance,
    construct_name,
    merge_lenses,
    names_list,
    ref_name,
    refs_in,
    resource_label,
    string_pattern,
    template_key,
    text_of,
)
from iacgrade.graders.analysis.pyast import call_name, dotted, kwarg, walk
from iacgrade.graders.analysis.source import SourceFile
from iacgrade.graders.analysis.stacks import string_values, truthy_kw
from iacgrade.graders.analysis.template import Resource
from iacgrade.graders.checks import CheckOptions, check
from iacgrade.graders.models import Evidence


class DlqMissingOptions(CheckOptions):
    scheduled_rules: bool = False
    """Count functions only a schedule invokes (a missed tick is not lost data, so off by default)."""


@check("dlq-missing", lenses=("source", "template"), kinds=("cdk-python",), options=DlqMissingOptions)
def dlq_missing(ctx: CheckContext) -> Iterable[Hit]:
    """Asynchronous consumers without a dead-letter queue or on-failure destination.

    What it finds: one finding per consumer. SQS queues that are not themselves dead-letter
    queues and have no redrive policy (their consumers, SQS-triggered functions included,
    retry a poison message forever); functions invoked asynchronously by S3 notifications, SNS
    subscriptions or EventBridge event rules with no dead_letter_queue, on_failure destination
    or target DLQ; Kinesis / DynamoDB stream mappings without an on-failure destination.
    Functions only invoked synchronously (API Gateway) or by schedules are not counted, nor is
    an EventInvokeConfig on such a function.

    Why it matters: events that fail their retries are silently dropped (async invokes), block
    a shard until they expire (streams) or circle until they expire (queues): data is lost and nobody
    can replay it.

    Bad example:

        queue = sqs.Queue(self, "Orders")
        fn.add_event_source(SqsEventSource(queue))

    Fix: `sqs.Queue(self, "Orders", dead_letter_queue=sqs.DeadLetterQueue(queue=dlq,
    max_receive_count=3))`; `on_failure=SqsDestination(dlq)` on stream sources and on
    async-invoked functions (or `dead_letter_queue=`).
    """
    index = AnswerModel.of(ctx)
    template = _template_consumers(ctx) if ctx.template.present else []
    source = _source_consumers(ctx, index)
    if not ctx.template.present:
        return [Hit(s.text, [s.evidence], key=f"{s.group}:{s.key or s.text}", lens="source") for s in source]
    hits = [Hit(t.text, [t.evidence], key=f"{t.group}:{t.key}", lens="template") for t in template]
    # A queue and a function may share a construct id: source consumers join only their own group.
    for group in dict.fromkeys(t.group for t in template):
        merged = merge_lenses(
            ctx,
            [Hit(t.text, [t.evidence], key=t.key, lens="template") for t in template if t.group == group],
            [Hit(s.text, [s.evidence], key=s.key) for s in source if s.group == group],
        )
        hits += [replace(h, key=f"{group}:{h.key}") for h in merged if h.lens == "source"]
    return hits


# ==== dlq-missing ==========================================================================
_DLQ_NAME = re.compile(r"dlq|dead[-_ ]?letter|deadletter", re.I)


_DLQ_KEYS = ("RedrivePolicy", "DeadLetterConfig", "OnFailure", "RedriveAllowPolicy")


@dataclass
class _Consumer:
    group: str  # queue | async | stream
    key: str | None
    text: str
    evidence: Evidence


def _dlq_refs(value: Any) -> set[str]:
    """Logical ids used as dead-letter targets anywhere inside a resource's properties."""
    out: set[str] = set()
    if isinstance(value, dict):
        for k, v in value.items():
            if k in _DLQ_KEYS:
                out |= refs_within(v)
            else:
                out |= _dlq_refs(v)
    elif isinstance(value, list):
        for v in value:
            out |= _dlq_refs(v)
    return out


def _template_consumers(ctx: CheckContext) -> list[_Consumer]:
    everything = list(ctx.template.resources(include_helpers=True))
    by_id = {(r.stack, r.logical_id): r for r in everything}
    dlqs = {(r.stack, t) for r in everything for t in _dlq_refs(r.properties)}
    fns = {(f.stack, f.logical_id): f for f in workload_functions(ctx)}
    out: list[_Consumer] = []
    out.extend(_template_queues(ctx, by_id, dlqs))
    schedules = ctx.options(DlqMissingOptions).scheduled_rules
    out.extend(_template_async_functions(everything, by_id, fns, schedules))
    out.extend(_template_streams(everything, by_id, fns))
    return out


def _consumers_of_queue(everything: list[Resource], queue: Resource) -> list[str]:
    out = []
    for m in everything:
        if m.type == "AWS::Lambda::EventSourceMapping" and m.stack == queue.stack:
            if ref_target(m.properties.get("EventSourceArn")) == queue.logical_id:
                fn = ref_target(m.properties.get("FunctionName"))
                if fn:
                    out.append(fn)
    return out


def _template_queues(
    ctx: CheckContext, by_id: dict[tuple[str, str], Resource], dlqs: set[tuple[str, str]]
) -> list[_Consumer]:
    everything = list(by_id.values())
    out = []
    for q in ctx.template.resources("AWS::SQS::Queue"):
        if (q.stack, q.logical_id) in dlqs or q.properties.get("RedrivePolicy") is not None:
            continue
        qname = q.properties.get("QueueName")
        if _DLQ_NAME.search(template_key(q)) or (isinstance(qname, str) and _DLQ_NAME.search(qname)):
            continue  # meant as a dead-letter queue itself
        fns = [by_id.get((q.stack, f)) for f in _consumers_of_queue(everything, q)]
        consumers = [construct_name(f) for f in fns if f is not None]
        text = f"queue {resource_label(q)} has no dead-letter queue (no RedrivePolicy)"
        if consumers:
            text += f"; its consumer {names_list(consumers)} retries a poison message until it expires"
        out.append(_Consumer("queue", template_key(q), text, q.evidence(value="RedrivePolicy not set")))
    return out


def _function_of(
    value: Any, stack: str, by_id: dict[tuple[str, str], Resource], fns: dict
) -> Resource | None:
    """The function an ARN value points at (directly, or through an alias/version)."""
    target = ref_target(value)
    if target is None:
        return None
    if (stack, target) in fns:
        return fns[(stack, target)]
    res = by_id.get((stack, target))
    if res is not None and res.type in ("AWS::Lambda::Alias", "AWS::Lambda::Version"):
        inner = ref_target(res.properties.get("FunctionName"))
        return fns.get((stack, inner)) if inner else None
    return None


def _async_sources(
    everything: list[Resource], by_id: dict, fns: dict, schedules: bool
) -> dict[tuple[str, str], list[tuple[str, bool]]]:
    """For each function: (what invokes it asynchronously, whether that source has its own DLQ)."""
    out: dict[tuple[str, str], list[tuple[str, bool]]] = {}

    def add(fn: Resource | None, label: str, covered: bool) -> None:
        if fn is not None:
            out.setdefault((fn.stack, fn.logical_id), []).append((label, covered))

    for r in everything:
        p = r.properties
        if r.type in ("Custom::S3BucketNotifications", "AWS::S3::Bucket"):
            conf = p.get("NotificationConfiguration")
            lambdas = (
                conf.get("LambdaFunctionConfigurations", conf.get("LambdaConfigurations"))
                if isinstance(conf, dict)
                else None
            )
            bucket = ref_target(p.get("BucketName")) if r.type.startswith("Custom::") else r.logical_id
            bucket_res = by_id.get((r.stack, bucket or ""))
            for entry in lambdas if isinstance(lambdas, list) else []:
                if isinstance(entry, dict):
                    arn = entry.get("LambdaFunctionArn", entry.get("Function"))
                    add(
                        _function_of(arn, r.stack, by_id, fns),
                        f"S3 notifications of {construct_name(bucket_res) if bucket_res else bucket}",
                        False,
                    )
        elif r.type == "AWS::SNS::Subscription" and p.get("Protocol") == "lambda":
            topic = by_id.get((r.stack, ref_target(p.get("TopicArn")) or ""))
            add(
                _function_of(p.get("Endpoint"), r.stack, by_id, fns),
                f"SNS topic {construct_name(topic) if topic else '?'}",
                p.get("RedrivePolicy") is not None,
            )
        elif r.type == "AWS::SNS::Topic" and isinstance(p.get("Subscription"), list):
            for sub in p["Subscription"]:
                if isinstance(sub, dict) and sub.get("Protocol") == "lambda":
                    add(
                        _function_of(sub.get("Endpoint"), r.stack, by_id, fns),
                        f"SNS topic {construct_name(r)}",
                        False,
                    )
        elif r.type == "AWS::Lambda::EventInvokeConfig" and isinstance(p.get("DestinationConfig"), dict):
            source = _function_of(p.get("FunctionName"), r.stack, by_id, fns)
            for outcome in ("OnSuccess", "OnFailure"):
                dest = p["DestinationConfig"].get(outcome)
                if isinstance(dest, dict):
                    label = f"the {outcome[2:].lower()} destination of {construct_name(source) if source else '?'}"
                    add(_function_of(dest.get("Destination"), r.stack, by_id, fns), label, False)
        elif r.type == "AWS::Events::Rule":
            if not schedules and p.get("ScheduleExpression") is not None and p.get("EventPattern") is None:
                continue  # a timer, not an event stream: a missed tick is not lost data
            for target in p.get("Targets") or []:
                if isinstance(target, dict):
                    add(
                        _function_of(target.get("Arn"), r.stack, by_id, fns),
                        f"EventBridge rule {construct_name(r)}",
                        target.get("DeadLetterConfig") is not None,
                    )
    return out


def _template_async_functions(
    everything: list[Resource], by_id: dict, fns: dict, schedules: bool
) -> list[_Consumer]:
    protected: set[tuple[str, str]] = set()
    for key, fn in fns.items():
        if fn.properties.get("DeadLetterConfig") is not None:
            protected.add(key)
    for r in everything:
        if r.type == "AWS::Lambda::EventInvokeConfig":
            dest = r.properties.get("DestinationConfig")
            if isinstance(dest, dict) and dest.get("OnFailure") is not None:
                fn = _function_of(r.properties.get("FunctionName"), r.stack, by_id, fns)
                if fn is not None:
                    protected.add((fn.stack, fn.logical_id))
    out = []
    for key, sources in sorted(_async_sources(everything, by_id, fns, schedules).items()):
        if key in protected:
            continue
        bare = [label for label, covered in sources if not covered]
        if not bare:
            continue
        fn = fns[key]
        text = (
            f"function {resource_label(fn)} is invoked asynchronously by {names_list(bare)} with no "
            "dead-letter queue or on-failure destination: events that fail their retries are dropped"
        )
        out.append(
            _Consumer(
                "async",
                template_key(fn),
                text,
                fn.evidence(value="no DeadLetterConfig / OnFailure destination"),
            )
        )
    return out


def _is_stream_arn(value: Any, stack: str, by_id: dict) -> bool:
    target = ref_target(value)
    if target is not None:
        res = by_id.get((stack, target))
        if res is None:
            return False
        if res.type in ("AWS::Kinesis::Stream", "AWS::Kinesis::StreamConsumer"):
            return True
        att = value.get("Fn::GetAtt") if isinstance(value, dict) else None
        return (
            res.type in ("AWS::DynamoDB::Table", "AWS::DynamoDB::GlobalTable")
            and isinstance(att, list)
            and "StreamArn" in att[1:]
        )
    text = " ".join(string_values(value))
    return ":kinesis:" in text or ("dynamodb" in text and "/stream/" in text)


def _template_streams(everything: list[Resource], by_id: dict, fns: dict) -> list[_Consumer]:
    out = []
    for m in everything:
        if m.type != "AWS::Lambda::EventSourceMapping" or not _is_stream_arn(
            m.properties.get("EventSourceArn"), m.stack, by_id
        ):
            continue
        dest = m.properties.get("DestinationConfig")
        if isinstance(dest, dict) and dest.get("OnFailure") is not None:
            continue
        fn = _function_of(m.properties.get("FunctionName"), m.stack, by_id, fns)
        if fn is None:
            continue
        source = by_id.get((m.stack, ref_target(m.properties.get("EventSourceArn")) or ""))
        what = f"{'Kinesis stream' if source is not None and source.type.startswith('AWS::Kinesis') else 'stream'} {construct_name(source) if source else ''}".strip()
        text = (
            f"function {resource_label(fn)} consumes {what} with no on-failure destination: a failing batch "
            "is retried until the records expire and blocks its shard"
        )
        out.append(
            _Consumer(
                "stream", template_key(fn), text, m.evidence(value="DestinationConfig.OnFailure not set")
            )
        )
    return out


# ---- dlq source lens ----------------------------------------------------------------------
_DLQ_KWARGS = (
    "dead_letter_queue",
    "on_failure",
    "redrive_policy",
    "dead_letter_config",
    "dead_letter_target_arn",
)


_DLQ_WRAPPERS = ("SqsDestination", "SqsDlq", "DeadLetterQueue", "SnsDestination")


@dataclass
class _SourceModel:
    index: AnswerModel
    fn_by_ref: dict[str, Instance]
    dlq_refs: set[str]
    schedules: bool = False  # count schedule-only rules as async sources (rubric option)


def _source_model(index: AnswerModel) -> _SourceModel:
    fn_by_ref: dict[str, Instance] = {}
    for inst in index.instances(*FUNCTION_CALLS):
        for ref in index.assigned_names(inst):
            fn_by_ref.setdefault(ref, inst)
    dlq_refs: set[str] = set()
    for _, call in index.calls:
        for kw in call.keywords:
            if kw.arg in _DLQ_KWARGS:
                dlq_refs |= refs_in(kw.value)
        if call_name(call) in _DLQ_WRAPPERS:
            for arg in [*call.args, *(kw.value for kw in call.keywords)]:
                dlq_refs |= refs_in(arg)
    return _SourceModel(index, fn_by_ref, dlq_refs)


def _receiver(call: ast.Call) -> str | None:
    return ref_name(call.func.value) if isinstance(call.func, ast.Attribute) else None


def _first_ref(nodes: Iterable[ast.expr | None]) -> str | None:
    for node in nodes:
        ref = ref_name(node)
        if ref:
            return ref
        if isinstance(node, ast.Attribute):  # fn.function_arn / stream.stream_arn
            inner = ref_name(node.value)
            if inner:
                return inner
    return None


def _source_consumers(ctx: CheckContext, index: AnswerModel) -> list[_Consumer]:
    model = _source_model(index)
    model.schedules = ctx.options(DlqMissingOptions).scheduled_rules
    out = _source_queues(ctx, index, model)
    out.extend(_source_async(ctx, index, model))
    out.extend(_source_streams(ctx, index, model))
    return out


def _source_queues(ctx: CheckContext, index: AnswerModel, model: _SourceModel) -> list[_Consumer]:
    consumers: dict[str, list[str]] = {}
    for src, call in index.calls:
        if call_name(call) == "SqsEventSource" and call.args:
            queue = _first_ref([call.args[0]])
            fn = _receiver_fn(index, src, call, model)
            if queue and fn:
                consumers.setdefault(queue, []).append(fn.label)
    out = []
    for inst in index.instances("Queue", "CfnQueue"):
        if inst.opaque or inst.kw_set("dead_letter_queue") or inst.kw_set("redrive_policy"):
            continue
        names = index.assigned_names(inst)
        qname = string_pattern(inst.kw("queue_name")) or ""
        if names & model.dlq_refs or _DLQ_NAME.search(inst.label) or _DLQ_NAME.search(qname):
            continue
        if any(_DLQ_NAME.search(n) for n in names):
            continue
        users = [u for n in names for u in consumers.get(n, [])]
        text = f"queue {inst.label} has no dead_letter_queue"
        if users:
            text += f"; its consumer {names_list(users)} retries a poison message until it expires"
        out.append(_Consumer("queue", inst.cid, text, inst.evidence(ctx, value="no dead_letter_queue")))
    return out


def _receiver_fn(index: AnswerModel, src: SourceFile, call: ast.Call, model: _SourceModel) -> Instance | None:
    """The function of `fn.add_event_source(<call>)`."""
    par = index.parent(src, call)
    if (
        isinstance(par, ast.Call)
        and isinstance(par.func, ast.Attribute)
        and par.func.attr == "add_event_source"
    ):
        ref = _receiver(par)
        return model.fn_by_ref.get(ref) if ref else None
    return None


def _protected_fns(index: AnswerModel, model: _SourceModel) -> set[int]:
    """ids of function instances with a DLQ or on-failure destination of their own."""
    out: set[int] = set()
    for inst in model.fn_by_ref.values():
        if (
            inst.kw_set("dead_letter_queue")
            or inst.kw_set("dead_letter_topic")
            or inst.kw_set("on_failure")
            or truthy_kw(inst.kw("dead_letter_queue_enabled"))
        ):
            out.add(id(inst))
    for _, call in index.calls:
        name = call_name(call)
        if (
            name in ("configure_async_invoke", "add_event_invoke_config")
            and kwarg(call, "on_failure") is not None
        ):
            fn = model.fn_by_ref.get(_receiver(call) or "")
        elif name == "EventInvokeConfig" and kwarg(call, "on_failure") is not None:
            fn = model.fn_by_ref.get(_first_ref([kwarg(call, "function")]) or "")
        else:
            continue
        if fn is not None:
            out.add(id(fn))
    return out


def _scheduled_rule(index: AnswerModel, src: SourceFile, call: ast.Call) -> bool:
    """True when a `targets.LambdaFunction(...)` call sits on a schedule-only rule."""
    rule: ast.Call | None = None
    cur: ast.AST | None = index.parent(src, call)
    while cur is not None and rule is None:
        if isinstance(cur, ast.Call) and call_name(cur) == "Rule":
            rule = cur
        elif (
            isinstance(cur, ast.Call)
            and isinstance(cur.func, ast.Attribute)
            and cur.func.attr == "add_target"
        ):
            var = _receiver(cur)
            rule = _rule_assigned(index, src, var) if var else None
            break
        elif isinstance(cur, ast.stmt):
            break
        cur = index.parent(src, cur)
    return rule is not None and kwarg(rule, "schedule") is not None and kwarg(rule, "event_pattern") is None


def _rule_assigned(index: AnswerModel, src: SourceFile, var: str) -> ast.Call | None:
    for node in walk(src.tree) if src.tree else ():
        if (
            isinstance(node, ast.Assign)
            and isinstance(node.value, ast.Call)
            and call_name(node.value) == "Rule"
        ):
            if any(ref_name(t) == var for t in node.targets):
                return node.value
    return None


def _async_trigger(
    index: AnswerModel, src: SourceFile, call: ast.Call, model: _SourceModel
) -> tuple[Instance | None, str]:
    """(function, what invokes it) when ``call`` wires a function to an asynchronous source."""
    name = call_name(call)
    first = model.fn_by_ref.get(_first_ref(call.args[:1]) or "") if call.args else None
    if name == "LambdaDestination":  # s3n (S3 notifications) or aws_lambda_destinations (another function)
        where = "a Lambda destination" if "destinations" in dotted(call.func).lower() else "S3 notifications"
        return first, where
    if name == "LambdaSubscription" and kwarg(call, "dead_letter_queue") is None:
        return first, "an SNS subscription"
    if (
        name == "LambdaFunction"
        and kwarg(call, "dead_letter_queue") is None
        and (model.schedules or not _scheduled_rule(index, src, call))
    ):
        return first, "an EventBridge rule"
    if name in ("S3EventSource", "S3EventSourceV2", "SnsEventSource"):
        return _receiver_fn(index, src, call, model), "S3 notifications" if name.startswith(
            "S3"
        ) else "an SNS subscription"
    return None, ""


def _source_async(ctx: CheckContext, index: AnswerModel, model: _SourceModel) -> list[_Consumer]:
    protected = _protected_fns(index, model)
    found: dict[int, tuple[Instance, list[str], list[Evidence]]] = {}
    for src, call in index.calls:
        fn, label = _async_trigger(index, src, call, model)
        if fn is None or id(fn) in protected:
            continue
        entry = found.setdefault(id(fn), (fn, [], []))
        entry[1].append(label)
        entry[2].append(ctx.source.at(src, call, value=text_of(call, 80)))
    out = []
    for fn, labels, evidence in found.values():
        text = (
            f"function {fn.label} is invoked asynchronously by {names_list(labels)} with no "
            "dead-letter queue or on-failure destination: events that fail their retries are dropped"
        )
        out.append(
            _Consumer("async", fn.cid, text, fn.evidence(ctx, value="no dead_letter_queue / on_failure"))
        )
        out.extend(_Consumer("async", fn.cid, text, ev) for ev in evidence)
    return out


def _source_streams(ctx: CheckContext, index: AnswerModel, model: _SourceModel) -> list[_Consumer]:
    out = []
    for src, call in index.calls:
        name = call_name(call)
        if kwarg(call, "on_failure") is not None or kwarg(call, "destination_config") is not None:
            continue
        fn: Instance | None = None
        if name in ("KinesisEventSource", "DynamoEventSource"):
            fn = _receiver_fn(index, src, call, model)
            what = f"{'Kinesis stream' if name.startswith('Kinesis') else 'table stream'} {text_of(call.args[0], 40) if call.args else ''}"
        elif name in ("EventSourceMapping", "CfnEventSourceMapping"):
            arn = kwarg(call, "event_source_arn")
            shown = text_of(arn, 60)
            if arn is None or not ("stream" in shown.lower() or "kinesis" in shown.lower()):
                continue
            fn = model.fn_by_ref.get(_first_ref([kwarg(call, "target"), kwarg(call, "function_name")]) or "")
            what = shown
        else:
            continue
        if fn is None:
            continue
        text = (
            f"function {fn.label} consumes {what.strip()} with no on_failure destination: a failing batch is "
            "retried until the records expire and blocks its shard"
        )
        out.append(_Consumer("stream", fn.cid, text, ctx.source.at(src, call, value="no on_failure")))
    return out

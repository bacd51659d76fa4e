"""The analysis model's one matching rule and its one lens merger."""

from __future__ import annotations

from iacgrade.graders.analysis.context import Hit
from iacgrade.graders.analysis.model import (
    AnswerModel,
    Item,
    best_matches,
    infrastructure_files,
    match_level,
    merge_lenses,
    names,
    one_finding,
    resource_label,
    template_key,
)
from iacgrade.graders.analysis.template import Resource
from iacgrade.graders.models import Evidence
from tests.checkkit import make_context


def _res(logical_id: str, path: str | None = None, rtype: str = "AWS::SQS::Queue") -> Resource:
    raw: dict = {"Type": rtype}
    if path:
        raw["Metadata"] = {"aws:cdk:path": path}
    return Resource("Stack", logical_id, rtype, {}, raw, {})


def test_template_key_is_the_construct_id_or_the_marked_logical_stem() -> None:
    assert template_key(_res("OrdersTable5D02A0A9", "Stack/Orders/Resource")) == "Orders"
    bare = _res("OrdersTable5D02A0A9")
    assert template_key(bare) == "~OrdersTable"
    assert resource_label(bare) == "OrdersTable (OrdersTable5D02A0A9)"
    assert resource_label(_res("MyQueue")) == "MyQueue"  # a hand-written template: no hash, no mark


def test_names_the_construct_itself() -> None:
    assert names("ApiHandler-{}", "ApiHandler-dev")
    assert names("OrdersTable", "~OrdersTable")
    assert names("ApiHandler-{}", "~ApiHandlerdev")  # logical ids keep alphanumerics only
    assert names("Handler", "~ApiHandler")  # nested in a construct "Api", no path metadata
    assert not names("Handler", "~HandlerRole")
    assert not names("Table", "OrdersTable")  # with path metadata the id must match whole
    assert not names(None, "Handler")
    assert not names("{}-{}", "Handler-dev")  # no literal part names nothing
    assert names("A", "A") and not names("A", "~BA")  # one letter names only itself


def test_match_level_prefers_the_construct_to_what_it_contains() -> None:
    fn = _res("FnA1B2C3D4", "Stack/Fn/Resource", "AWS::Lambda::Function")
    role = _res("FnServiceRoleA1B2C3D4", "Stack/Fn/ServiceRole/Resource", "AWS::IAM::Role")
    other = _res("OtherA1B2C3D4", "Stack/Other/Resource")
    assert [match_level(r, "Fn") for r in (fn, role, other)] == [3, 2, 0]
    assert best_matches([role, fn, other], "Fn") == [fn]
    assert best_matches([role, other], "Fn") == [role]
    bare_role = _res("FnServiceRoleA1B2C3D4", None, "AWS::IAM::Role")
    inner = _res("AppFnPolicyA1B2C3D4", None, "AWS::IAM::Policy")
    assert [match_level(r, "Fn") for r in (bare_role, inner)] == [2, 1]
    assert match_level(role, "{}") == 0


def test_merge_lenses_joins_source_hits_to_the_template_hits_they_name() -> None:
    ctx = make_context({}, {"Stack": {"Resources": {}}})
    template = [Hit("queue Orders", [Evidence(resource="OrdersA1B2C3D4")], key="~Orders", lens="template")]
    source = [
        Hit("queue Orders (source)", [Evidence(file="app.py", line=3)], key="Orders"),
        Hit("queue Gone", [Evidence(file="app.py", line=9)], key="Gone"),
    ]
    merged = merge_lenses(ctx, template, source)
    assert [(h.key, h.lens) for h in merged] == [("~Orders", "template"), ("~Orders", "source")]
    kept = merge_lenses(ctx, template, source, keep_unmatched=True)
    assert [h.key for h in kept] == ["~Orders", "~Orders", "Gone"]
    no_template = make_context({})
    assert merge_lenses(no_template, [], source) == source


def test_one_finding_lets_the_template_judge_and_the_source_add_evidence() -> None:
    ctx = make_context({}, {"Stack": {"Resources": {}}})
    t = [Item("~Orders", "table Orders", Evidence(resource="OrdersA1B2C3D4"))]
    s = [
        Item("Orders", "Orders", Evidence(file="app.py", line=3)),
        Item("Else", "Else", Evidence(file="app.py", line=8)),
    ]
    hits = one_finding(ctx, "k", t, s, lambda items: ", ".join(i.text for i in items))
    assert [(h.message, h.lens, [e.line for e in h.evidence]) for h in hits] == [
        ("table Orders", "template", [None]),
        ("table Orders", "source", [3]),
    ]
    assert one_finding(ctx, "k", [], s, lambda items: "x") == []
    alone = one_finding(make_context({}), "k", [], s, lambda items: ", ".join(i.text for i in items))
    assert [(h.message, h.lens) for h in alone] == [("Orders, Else", "source")]


def test_merge_lenses_takes_the_join_a_check_gives() -> None:
    ctx = make_context({}, {"Stack": {"Resources": {}}})
    template = [
        Hit("role A", [Evidence(resource="RoleA")], key="holder:A", lens="template"),
        Hit("role B", [Evidence(resource="RoleB")], key="holder:B", lens="template"),
    ]
    source = [Hit("", [Evidence(file="app.py", line=4)], key="Fn")]
    merged = merge_lenses(ctx, template, source, joins=lambda hit: ["holder:B"])
    assert [(h.key, h.lens) for h in merged][-1] == ("holder:B", "source")
    assert merge_lenses(ctx, template, source, joins=lambda hit: [])[2:] == []


STACK = """
from aws_cdk import Stack, aws_sqs as sqs

class AppStack(Stack):
    def __init__(self, scope, cid):
        super().__init__(scope, cid)
        for name in ["a", "b"]:
            sqs.Queue(self, f"{name}Queue")
"""


def test_infrastructure_files_is_one_rule_for_every_check() -> None:
    ctx = make_context(
        {
            "lib/app_stack.py": STACK,
            "lib/parts.py": "from constructs import Construct\n\nclass Part(Construct):\n    pass\n",
            "lambda/handler.py": "import json\n\ndef handler(event, context):\n    return json.dumps(event)\n",
            "tests/unit/test_app_stack.py": "from aws_cdk import App\nfrom aws_cdk import assertions\n",
        }
    )
    assert [idx.src.path for idx in infrastructure_files(ctx)] == ["lib/app_stack.py", "lib/parts.py"]


def test_the_answer_model_is_built_once_per_answer() -> None:
    ctx = make_context({"lib/app_stack.py": STACK})
    model = AnswerModel.of(ctx)
    assert AnswerModel.of(ctx) is model
    assert [i.cid for i in model.instances("Queue")] == ["aQueue", "bQueue"]
    assert model.stack_classes() == {"AppStack"}
    bare = ctx.without_sources()
    assert AnswerModel.of(bare) is not model and list(AnswerModel.of(bare).instances("Queue")) == []


def test_the_template_model_reads_the_templates_a_build_names(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import json

    from iacgrade.graders.analysis.template import TemplateModel
    from iacgrade.graders.models import LintMatch, SynthResult

    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "S.json").write_text(
        json.dumps({"Resources": {"B": {"Type": "AWS::S3::Bucket"}}})
    )
    (tmp_path / "templates" / "Bad.json").write_text("{not json")
    synth = SynthResult(
        status="ok",
        templates={"S": "templates/S.json", "Bad": "templates/Bad.json", "Gone": "templates/Gone.json"},
        lint={"S": [{"rule": "E3012", "message": "m", "path": "Resources/B/Properties"}]},
    )
    model = TemplateModel.of(synth, tmp_path)
    assert model.present and list(model.templates) == ["S"]  # unreadable templates are left out
    assert [(r.stack, r.logical_id) for r in model.resources("AWS::S3::Bucket")] == [("S", "B")]
    (match,) = model.lint["S"]
    assert isinstance(match, LintMatch) and match.path == ["Resources", "B", "Properties"]
    assert match.logical_id == "B" and match.level == "error"
    assert not TemplateModel().present


def test_a_worker_item_that_is_not_a_lint_match_is_left_out() -> None:
    from iacgrade.graders.models import LintMatch, typed_list

    got = typed_list(LintMatch, [{"rule": "W1", "line": 3}, "junk", {"rule": "E1", "line": "x"}, None])
    assert [(m.rule, m.line) for m in got] == [("W1", 3)]
    assert typed_list(LintMatch, {"not": "a list"}) == []


def test_an_attempt_of_an_older_run_still_loads() -> None:
    from iacgrade.graders.models import SynthResult

    old = {"attempts": [{"error_type": "TypeError", "message": "m", "cause": "invalid-api", "seconds": 1.5}]}
    (attempt,) = SynthResult.model_validate(old).attempts
    assert (attempt.error_type, attempt.cause, attempt.file, attempt.line) == (
        "TypeError",
        "invalid-api",
        None,
        None,
    )

"""missing-asset: an asset path the answer never provides (`Code.from_asset("lambda")` with no lambda/ folder)."""

from __future__ import annotations

import ast
import json
import posixpath
import re
from collections.abc import Iterator

from iacgrade.graders.analysis.context import CheckContext, Hit
from iacgrade.graders.analysis.inline import single_binding
from iacgrade.graders.analysis.pyast import call_name, dotted, kwarg, parents, source_segment, walk
from iacgrade.graders.analysis.source import SourceFile
from iacgrade.graders.analysis.synth_failure import is_cdk_call
from iacgrade.graders.checks import check
from iacgrade.graders.models import Evidence


@check("missing-asset", lenses=("source", "synth", "template"), kinds=("cdk-python",))
def missing_asset(ctx: CheckContext) -> Iterator[Hit]:
    """An asset path the answer never provides (`Code.from_asset("lambda")` with no lambda/ folder).

    What it finds: asset paths (`Code.from_asset`, `Source.asset`, `DockerImageCode.from_image_asset`,
    `ContainerImage.from_asset`, `DockerImageAsset(directory=...)`, `Asset(path=...)`,
    `PythonFunction(entry=...)`, ...) that resolve (literals, `os.path.join(os.path.dirname(__file__), ...)`,
    `Path(__file__).parent / ...`) to a path under which the answer gives no file, relative to
    the app's directory; and the assets synth could not find (the grader stubbed them to go on).
    In the template, a nested stack (``AWS::CloudFormation::Stack``) whose ``TemplateURL`` names a
    template file (``.../network-stack.json``) the answer never gives; an answer that gives
    templates it does not name is given the benefit of the doubt.

    Why it matters: `cdk synth` fails with "Cannot find asset"; the code the function should run
    is not part of the answer. A nested stack's template that is not in the answer cannot be
    uploaded, and the resources it stands for are not part of the answer either.

    Bad example:

        lambda_.Function(self, "Fn", code=lambda_.Code.from_asset("lambda"), ...)   # no lambda/ in the answer

    Fix: Include the files the asset points at (or point at the folder the answer does give), or
    use inline code.
    """
    have = _answer_paths(ctx)
    seen: set[str] = set()
    for src in ctx.source.parsed():
        for call in walk(src.tree):  # type: ignore[arg-type]
            if not isinstance(call, ast.Call) or call_name(call) not in _ASSET_CALLS:
                continue
            if not is_cdk_call(call, src):
                continue
            node = _asset_arg(call)
            path = _resolve_path(node, src) if node is not None else None
            if path is None or _provided(path, have):
                continue
            seen.add(path)
            code = _short_code(src, call)
            yield Hit(
                f"`{code}` points at `{path}`, but the answer gives no file there",
                [ctx.source.at(src, call, value=code)],
                key=f"asset:{path}",
                lens="source",
            )
    yield from _missing_nested_templates(ctx, have)
    for stub in ctx.synth.missing_assets:
        path = _normal(stub)
        if path is None:
            continue
        yield Hit(
            f"synth could not find the asset `{path}` (the grader stubbed it to go on); the answer never gives it",
            [Evidence(value=f"Cannot find asset at {path}")],
            key=f"asset:{path}",
            lens="synth",
        )


# ---- missing-asset -------------------------------------------------------------------------------
# call name -> where the path is: positional index or keyword
_ASSET_CALLS: dict[str, tuple[int | None, str | None]] = {
    "from_asset": (0, "path"),
    "asset": (0, "path"),  # s3deploy.Source.asset / v1 Code.asset
    "AssetCode": (0, "path"),
    "from_image_asset": (0, "directory"),
    "from_docker_build": (0, "path"),
    "AssetImage": (0, "directory"),
    "DockerImageAsset": (None, "directory"),
    "Asset": (None, "path"),
    "PythonFunction": (None, "entry"),
    "PythonLayerVersion": (None, "entry"),
    "NodejsFunction": (None, "entry"),
    "GoFunction": (None, "entry"),
}


def _asset_arg(call: ast.Call) -> ast.expr | None:
    index, keyword = _ASSET_CALLS[call_name(call)]
    if keyword and kwarg(call, keyword) is not None:
        return kwarg(call, keyword)
    if index is not None and len(call.args) > index:
        return call.args[index]
    return None


def _resolve_path(node: ast.expr, src: SourceFile) -> str | None:
    """A project-relative path for a path expression, or None when it is not a simple one."""
    file_dir = posixpath.dirname(src.path)
    parts = _path_parts(node, file_dir, 0, src)
    if parts is None:
        return None
    return _normal(posixpath.join(*parts) if parts else ".")


def _path_parts(node: ast.expr, file_dir: str, depth: int, src: SourceFile | None = None) -> list[str] | None:
    if depth > 8:
        return None
    if isinstance(node, ast.Name) and src is not None and src.tree is not None:
        value = single_binding(node, src.tree, parents(src.tree))  # ASSETS = os.path.join(...)
        return _path_parts(value, file_dir, depth + 1, src) if value is not None else None
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.JoinedStr):
        if all(isinstance(v, ast.Constant) for v in node.values):
            return ["".join(str(v.value) for v in node.values)]  # type: ignore[attr-defined]
        return None
    if isinstance(node, ast.Call):
        name = dotted(node.func)
        if name in ("os.path.join", "path.join", "posixpath.join") and node.args:
            out: list[str] = []
            for arg in node.args:
                sub = _path_parts(arg, file_dir, depth + 1, src)
                if sub is None:
                    return None
                out.extend(sub)
            return out
        if name in ("os.path.dirname", "path.dirname") and len(node.args) == 1 and _is_file_ref(node.args[0]):
            return [file_dir or "."]
        if (
            name in ("os.path.abspath", "os.path.realpath", "str", "Path", "pathlib.Path")
            and len(node.args) == 1
        ):
            if _is_file_ref(node.args[0]):
                return None  # the file itself is not an asset folder
            return _path_parts(node.args[0], file_dir, depth + 1, src)
        if isinstance(node.func, ast.Attribute) and node.func.attr in ("joinpath", "resolve", "absolute"):
            base = _path_parts(node.func.value, file_dir, depth + 1, src)
            if base is None:
                return None
            for arg in node.args:
                sub = _path_parts(arg, file_dir, depth + 1, src)
                if sub is None:
                    return None
                base = base + sub
            return base
        return None
    if isinstance(node, ast.Attribute) and node.attr == "parent":
        inner = node.value
        if (
            isinstance(inner, ast.Call)
            and dotted(inner.func) in ("Path", "pathlib.Path")
            and inner.args
            and _is_file_ref(inner.args[0])
        ):
            return [file_dir or "."]
        if (
            isinstance(inner, ast.Call)
            and isinstance(inner.func, ast.Attribute)
            and inner.func.attr == "resolve"
            and isinstance(inner.func.value, ast.Call)
            and dotted(inner.func.value.func) in ("Path", "pathlib.Path")
            and inner.func.value.args
            and _is_file_ref(inner.func.value.args[0])
        ):
            return [file_dir or "."]
        return None
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
        left = _path_parts(node.left, file_dir, depth + 1, src)
        right = _path_parts(node.right, file_dir, depth + 1, src)
        return left + right if left is not None and right is not None else None
    return None


def _is_file_ref(node: ast.expr) -> bool:
    if isinstance(node, ast.Name) and node.id == "__file__":
        return True
    if (
        isinstance(node, ast.Call)
        and dotted(node.func) in ("os.path.abspath", "os.path.realpath")
        and node.args
    ):
        return _is_file_ref(node.args[0])
    return False


def _normal(path: str) -> str | None:
    if not path or path.startswith("/") or "${" in path:
        return None
    norm = posixpath.normpath(path)
    if norm.startswith(".."):
        return None
    return norm


def _answer_paths(ctx: CheckContext) -> set[str]:
    paths = {posixpath.normpath(f.path) for f in ctx.files}
    paths |= {posixpath.normpath(f.moved_from) for f in ctx.files if f.moved_from}
    if ctx.workspace is not None:
        paths |= {posixpath.normpath(p) for p in ctx.workspace.files}
    return paths


def _provided(path: str, have: set[str]) -> bool:
    if path == ".":
        return True
    return path in have or any(p.startswith(path + "/") for p in have)


def _short_code(src: SourceFile, call: ast.Call) -> str:
    func = dotted(call.func) or call_name(call)
    arg = _asset_arg(call)
    seg = source_segment(src.text, arg) if arg is not None else None
    seg = " ".join((seg or "").split())
    return f"{func}({seg[:60]})"


# ---- nested stack templates ------------------------------------------------------------------------
_TEMPLATE_FILE = re.compile(r"([\w.-]+\.(?:json|ya?ml|template))\W*$", re.IGNORECASE)
_ASSET_HASH = re.compile(r"[0-9a-f]{40,}\.json", re.IGNORECASE)  # CDK's own nested-stack assets
_UNNAMED_TEMPLATE = re.compile(r"template(?:-\d+)?\.(?:json|ya?ml)")


def _missing_nested_templates(ctx: CheckContext, have: set[str]) -> Iterator[Hit]:
    given = {posixpath.basename(p).lower() for p in have}
    for res in ctx.template.resources("AWS::CloudFormation::Stack"):
        url = res.properties.get("TemplateURL")
        match = _TEMPLATE_FILE.search(json.dumps(url)[-300:]) if url is not None else None
        if match is None or _ASSET_HASH.fullmatch(match.group(1)) or match.group(1).lower() in given:
            continue
        unnamed = {p for p in have if _UNNAMED_TEMPLATE.fullmatch(posixpath.basename(p)) and p != res.file}
        if unnamed:
            continue  # a template the answer gives without a name may be this one
        name = match.group(1)
        yield Hit(
            f"nested stack {res.logical_id} loads the template `{name}` (TemplateURL), but the answer never gives it",
            [res.evidence(value=f"TemplateURL .../{name}")],
            key=f"asset:{name}",
            lens="template",
        )

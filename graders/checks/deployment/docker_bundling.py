"""docker-bundling: assets that need Docker (or a local bundler) to build at synth time."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from iacgrade.graders.analysis.context import CheckContext, Hit
from iacgrade.graders.analysis.pyast import call_name, dotted, kwarg, walk
from iacgrade.graders.analysis.synth_failure import is_cdk_call
from iacgrade.graders.checks import check
from iacgrade.graders.models import Evidence


@check("docker-bundling", lenses=("source", "synth"), kinds=("cdk-python",))
def docker_bundling(ctx: CheckContext) -> Iterator[Hit]:
    """Assets that need Docker (or a local bundler) to build at synth time.

    What it finds: `bundling=BundlingOptions(...)` on assets, Docker image assets
    (`DockerImageCode.from_image_asset`, `ecs.ContainerImage.from_asset`, `DockerImageAsset`),
    `Code.from_docker_build`, `DockerImage.from_build`, and the alpha constructs that bundle
    (`PythonFunction`, `PythonLayerVersion`, `NodejsFunction`, `GoFunction`); and what synth
    recorded as bundled or built. One finding per answer, with every such call as evidence.

    Why it matters: synth (and every CI run) needs a Docker daemon and network access to build
    the asset; it fails or is slow where Docker is not available.

    Bad example:

        lambda_.Code.from_asset("lambda", bundling=cdk.BundlingOptions(
            image=lambda_.Runtime.PYTHON_3_12.bundling_image,
            command=["bash", "-c", "pip install -r requirements.txt -t /asset-output && cp -r . /asset-output"]))

    Fix: Pre-build the asset (or vendor its dependencies) or make sure Docker is available where
    the app is synthesized.
    """
    # one finding per answer: "needs Docker" is one requirement, every call that causes it is evidence
    uses: list[tuple[str, str, Evidence]] = []  # (call, reason, where)
    for src in ctx.source.parsed():
        for call in walk(src.tree):  # type: ignore[arg-type]
            if isinstance(call, ast.Call):
                reason = _docker_reason(call)
                if reason is not None and is_cdk_call(call, src):
                    func = dotted(call.func) or call_name(call)
                    uses.append((func, reason, ctx.source.at(src, call, value=func)))
    entries = list(ctx.synth.docker_bundling)
    if uses:
        kinds = list(dict.fromkeys(f"`{func}(...)` {reason}" for func, reason, _ in uses))
        count = f"{len(uses)} assets need Docker at synth: " if len(uses) > 1 else "synth needs Docker: "
        message = count + "; ".join(kinds[:4]) + ("; ..." if len(kinds) > 4 else "")
        yield Hit(message, [ev for _, _, ev in uses], key="docker", lens="source")
        if entries:
            yield Hit(message, [Evidence(value=e) for e in entries[:5]], key="docker", lens="synth")
    elif entries:
        yield Hit(
            f"synth built {len(entries)} asset(s) with Docker: {', '.join(entries[:4])}",
            [Evidence(value=e) for e in entries[:5]],
            key="docker",
            lens="synth",
        )


# ---- docker-bundling -----------------------------------------------------------------------------
_DOCKER_CALLS = {
    "from_image_asset": "builds a Docker image",
    "DockerImageAsset": "builds a Docker image",
    "AssetImage": "builds a Docker image",
    "from_docker_build": "builds in Docker",
    "from_build": "builds a Docker image",
    "PythonFunction": "bundles its dependencies in Docker",
    "PythonLayerVersion": "bundles its dependencies in Docker",
    "NodejsFunction": "bundles with esbuild (in Docker unless esbuild is installed locally)",
    "GoFunction": "bundles in Docker unless Go is installed locally",
}


def _docker_reason(call: ast.Call) -> str | None:
    name = call_name(call)
    func = dotted(call.func)
    if name in _DOCKER_CALLS and (name != "from_build" or func.endswith("DockerImage.from_build")):
        return _DOCKER_CALLS[name]
    if name == "from_asset" and func.endswith("ContainerImage.from_asset"):
        return "builds a Docker image"
    if kwarg(call, "bundling") is not None and name in ("from_asset", "Asset", "asset", "AssetCode"):
        return "bundles in Docker (`bundling=`)"
    return None

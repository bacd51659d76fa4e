"""Synthesize check fixtures for the tests, many in one process (the jsii runtime starts once).

Usage: python tests/synth_fixtures.py OUT.json FILE.py...

Each fixture file is a CDK module. If it defines ``build(app)`` that is called; otherwise
every Stack subclass the module itself defines is instantiated as ``Cls(app, "FixtureStack",
env=...)``. A ``# context: {...}`` header line adds CDK context. The output maps each file to
``{"templates": {stack: template}, "error": str|None, "warnings": [...]}``.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import sys
import tempfile
import traceback
from pathlib import Path

import aws_cdk as cdk

ENV = cdk.Environment(account="123456789012", region="us-east-1")


def _context(text: str) -> dict:
    for line in text.splitlines()[:20]:
        if line.startswith("# context:"):
            return json.loads(line.split(":", 1)[1])
    return {}


def synth_one(path: Path) -> dict:
    text = path.read_text()
    out = tempfile.mkdtemp(prefix="fixture-")
    stderr = io.StringIO()
    try:
        spec = importlib.util.spec_from_file_location(f"fixture_{abs(hash(path))}", path)
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        with contextlib.redirect_stderr(stderr):
            spec.loader.exec_module(module)
            app = cdk.App(outdir=out, context=_context(text))
            if hasattr(module, "build"):
                module.build(app)
            else:
                classes = [
                    v
                    for v in vars(module).values()
                    if isinstance(v, type) and issubclass(v, cdk.Stack) and v.__module__ == module.__name__
                ]
                for n, cls in enumerate(classes):
                    cls(app, "FixtureStack" if n == 0 else f"FixtureStack{n}", env=ENV)
            assembly = app.synth()
        templates = {s.stack_name: s.template for s in assembly.stacks}
        return {"templates": templates, "error": None, "warnings": stderr.getvalue().splitlines()}
    except Exception as exc:  # report, the test decides
        return {
            "templates": {},
            "error": f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=3)}",
            "warnings": stderr.getvalue().splitlines(),
        }


def main(argv: list[str]) -> int:
    out_path, files = Path(argv[0]), [Path(a) for a in argv[1:]]
    results = {str(f): synth_one(f) for f in files}
    out_path.write_text(json.dumps(results, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""WarmLinter (with its speed-ups) against plain cfn-lint over a whole set of real templates.

    .venv/bin/python scripts/lint_identity.py [--runs RUN ...] [--limit N] [--profile [TOP]]
        [--plain-cache FILE] [--plain-only]

The templates come from finished runs (``make eval`` folders, default ``.bench/eval-*``): a CDK
run's synthesized ``templates/*.template.json``, and a CloudFormation run's answer files
(``files/**.yaml|yml|json`` that read as a template and that the parse worker decodes, cut at a
JSON template's closing brace as it cuts them), each with its task's region (``lib/AWS_REGION`` in the task, else
us-east-1). Both sides run in fresh interpreters with one hash seed:

- plain: cfn-lint with none of iacgrade's speed-ups, as its own CLI lints several files: one
  ``Runner`` per region, ``decode_str`` then ``run_template_by_data`` per template;
- warm: one :class:`WarmLinter` for every region, speed-ups installed, every template in turn, a CloudFormation
  answer's template decoded first and handed over as the parse worker does.

Every match is compared whole (rule, level, message, path, resource, line) and in order. Prints
``N templates, M identical, K differ`` and each difference; exit 1 when any differs. ``--profile``
runs the warm side under cProfile instead and prints its cumulative and own-time tables.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from iacgrade.graders.extract import template_format  # noqa: E402
from iacgrade.graders.kinds.cfn_parse import json_object_only, parse_text  # noqa: E402
from iacgrade.graders.kinds.cloudformation import DEFAULT_REGION, is_outline  # noqa: E402

_CORPUS = ROOT.parent / "shared" / "corpus"
_REGION = re.compile(r"[a-z]{2}(-gov)?-[a-z]+-\d")


def _region(run: Path, answer_dir: Path) -> str:
    """The task's region: ``lib/AWS_REGION`` of the task the answer folder belongs to."""
    task = answer_dir.relative_to(run).parts[0]
    for corpus in sorted(_CORPUS.glob("*")):
        path = corpus / task / "lib" / "AWS_REGION"
        if path.is_file():
            text = path.read_text(encoding="utf-8", errors="replace")[:100].strip()
            if _REGION.fullmatch(text):
                return text
    return DEFAULT_REGION


def collect(runs: list[Path]) -> list[dict[str, Any]]:
    """Every template of the runs: ``{"name", "text", "region", "decode"}`` (decode: a CloudFormation
    answer's own text, which the parse worker decodes before the lint)."""
    out: list[dict[str, Any]] = []
    for run in runs:
        cfn = run.name.startswith("eval-cfn")
        # A CloudFormation answer's templates/ hold a long-form copy: its own text is what gets linted.
        for path in [] if cfn else sorted(run.rglob("templates/*.template.json")):
            answer = path.parent.parent
            name = f"{run.name}/{path.relative_to(run)}"
            text = path.read_text(encoding="utf-8")
            out.append({"name": name, "text": text, "region": _region(run, answer), "decode": False})
        if not cfn:
            continue
        for path in sorted(run.rglob("*")):
            if path.suffix not in (".yaml", ".yml", ".json") or "files" not in path.relative_to(run).parts:
                continue
            text = path.read_text(encoding="utf-8", errors="surrogateescape")
            if not template_format(text) or is_outline(text) or parse_text(text).get("status") != "ok":
                continue  # not a template, or one the parse worker refuses before any lint
            answer = next(p for p in path.parents if p.name == "files").parent
            out.append(
                {
                    "name": f"{run.name}/{path.relative_to(run)}",
                    "text": json_object_only(text)[0],
                    "region": _region(run, answer),
                    "decode": True,
                }
            )
    return out


# Each side reads the template list from the file named in argv[1] and prints one list of matches per
# template (or an error string) as JSON.
_PLAIN = textwrap.dedent("""
    import json, sys
    from cfnlint.api import ConfigMixIn, decode_str
    from cfnlint.runner import Runner, run_template_by_data
    from iacgrade.graders.lint import _as_dict, _sort_key
    templates = json.load(open(sys.argv[1]))
    runners = {}
    out = []
    for t in templates:
        if t["region"] not in runners:
            config = ConfigMixIn(regions=[t["region"]])
            runners[t["region"]] = (config, Runner(config).rules)
        config, rules = runners[t["region"]]
        try:
            template, errors = decode_str(t["text"])
            matches = list(errors or [])
            if template is not None and not errors:
                matches = list(run_template_by_data(template, config, rules))
            found = sorted((_as_dict(m) for m in matches), key=_sort_key)
        except Exception as exc:
            found = f"{type(exc).__name__}: {exc}"
        out.append(found)
    print(json.dumps(out))
""")
_WARM = textwrap.dedent("""
    import json, sys, time
    from cfnlint.api import decode_str
    from iacgrade.graders.lint import WarmLinter, install_speedups
    templates = json.load(open(sys.argv[1]))
    linter = WarmLinter()  # one for every region, as in the parse worker
    times = []  # CPU seconds of each template's lint (its decode left out, as the parse worker's)
    def run():
        out = []
        for t in templates:
            try:
                decoded = None
                if t["decode"]:
                    decoded, errors = decode_str(t["text"])
                    decoded = decoded if isinstance(decoded, dict) and not errors else None
                t1 = time.process_time()
                found = linter.lint(t["text"], decoded, (t["region"],))
                times.append(time.process_time() - t1)
            except Exception as exc:
                found = f"{type(exc).__name__}: {exc}"
            out.append(found)
        return out
    t0 = time.process_time()
    if len(sys.argv) > 2:
        import cProfile, pstats
        profile = cProfile.Profile(time.process_time)  # CPU time: the machine is shared
        profile.runcall(run)
        for order in ("cumulative", "tottime"):
            pstats.Stats(profile, stream=sys.stderr).sort_stats(order).print_stats(int(sys.argv[2]))
        print("[]")
    else:
        out = run()
        print(f"warm: {time.process_time() - t0:.2f} s CPU for {len(out)} templates", file=sys.stderr)
        times = sorted(times) or [0.0]
        print(
            f"warm lint per template (CPU): median {times[len(times) // 2] * 1000:.1f} ms,"
            f" mean {sum(times) / len(times) * 1000:.1f} ms, total {sum(times):.2f} s",
            file=sys.stderr,
        )
        assert all(install_speedups().values()), install_speedups()
        print(json.dumps(out))
""")


def _side(script: str, listing: Path, *extra: str) -> tuple[Any, str]:
    env = {**os.environ, "PYTHONHASHSEED": "0", "PYTHONPATH": str(ROOT)}
    t0 = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-c", script, str(listing), *extra],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=7200,
        check=False,
    )
    if proc.returncode != 0:
        raise SystemExit(f"side failed:\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout), f"{proc.stderr.strip()} (wall {time.monotonic() - t0:.1f} s)"


def _plain(templates: list[dict[str, Any]], listing: Path, cache: Path | None) -> tuple[Any, str]:
    """The plain side's matches; with ``cache``, read from (or saved to) that file, keyed by the
    template set and the cfn-lint version (plain cfn-lint's answer does not depend on iacgrade)."""
    import hashlib

    from cfnlint.version import __version__

    key = hashlib.sha256(json.dumps([__version__, templates]).encode("utf-8", "surrogatepass")).hexdigest()
    if cache is not None and cache.exists():
        saved = json.loads(cache.read_text(encoding="utf-8"))
        if saved.get("key") == key:
            return saved["matches"], f"read from {cache}"
        print(
            f"{cache} holds the plain side of another template set (or cfn-lint version):"
            " linting the plain side again and replacing it",
            file=sys.stderr,
            flush=True,
        )
    plain, note = _side(_PLAIN, listing)
    if cache is not None:
        cache.write_text(json.dumps({"key": key, "matches": plain}), encoding="utf-8")
    return plain, note


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", nargs="*", type=Path, default=sorted((ROOT / ".bench").glob("eval-*")))
    parser.add_argument("--limit", type=int, default=0, help="only N templates, spread evenly over the set")
    parser.add_argument("--profile", nargs="?", const=40, type=int, help="profile the warm side (rows)")
    parser.add_argument("--plain-cache", type=Path, help="keep the plain side's matches in this file")
    parser.add_argument("--plain-only", action="store_true", help="only run (and cache) the plain side")
    args = parser.parse_args()
    templates = collect([r for r in args.runs if r.is_dir()])
    if args.limit:
        step = max(1, len(templates) // args.limit)
        templates = templates[::step][: args.limit]
    if not templates:
        print("no templates found (give --runs with finished eval runs)", file=sys.stderr)
        return 2
    cfn = sum(1 for t in templates if t["decode"])
    print(
        f"{len(templates)} templates ({len(templates) - cfn} synthesized, {cfn} CloudFormation answer files)"
    )
    with tempfile.TemporaryDirectory() as tmp:
        listing = Path(tmp) / "templates.json"
        listing.write_text(json.dumps(templates), encoding="utf-8")
        if args.profile:
            _, err = _side(_WARM, listing, str(args.profile))
            print(err)
            return 0
        if args.plain_only:
            plain, plain_note = _plain(templates, listing, args.plain_cache)
            print(f"plain: {plain_note}")
            return 0
        with ThreadPoolExecutor(2) as ex:  # the two sides are separate processes: run them together
            warm_job = ex.submit(_side, _WARM, listing)
            plain, plain_note = _plain(templates, listing, args.plain_cache)
            warm, warm_note = warm_job.result()
    print(f"{warm_note}\nplain: {plain_note}")
    differ = [(t["name"], p, w) for t, p, w in zip(templates, plain, warm, strict=True) if p != w]
    matches = sum(len(p) for p in plain if isinstance(p, list))
    crashed = sum(1 for p in plain if isinstance(p, str))
    for name, p, w in differ:
        print(f"DIFFERS {name}\n  plain: {json.dumps(p)[:1500]}\n  warm:  {json.dumps(w)[:1500]}")
    print(
        f"{len(templates)} templates, {len(templates) - len(differ)} identical, {len(differ)} differ"
        f" ({matches} matches in all; {crashed} templates crashed cfn-lint on the plain side)"
    )
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())

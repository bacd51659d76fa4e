"""Grade a corpus as answer files and as a dataset of the same answers, and list the differences.

    .venv/bin/python scripts/datasets_vs_files.py [--corpus ../shared/corpus/cdk-py] [--format jsonl|parquet|hf]
        [--synth] [--out .bench/datasets-vs-files]

The dataset has one row per answer file: its id (task.role), its prompt (lib/PROMPT.md), its text
and its kind (from metadata.json). A row carries no task folder, so the rows are graded in
groups, one per distinct task scaffold, each with that scaffold (``--scaffold``). Prints how
many answers agree on status, total and findings (the report's reviewer section and anything else
read from the task folder is not compared). Exit 1 when any differ.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from warm_cold import comparable  # noqa: E402

from iacgrade.graders.datasets import DatasetFields  # noqa: E402
from iacgrade.graders.kinds import kind_of_metadata  # noqa: E402
from iacgrade.graders.pipeline import GradeOptions, grade  # noqa: E402


def rows_of(corpus: Path) -> list[dict[str, str | None]]:
    rows = []
    for answer in sorted(corpus.glob("*/lib/*RESPONSE.md")):
        task = answer.parent.parent
        prompt = task / "lib" / "PROMPT.md"
        try:
            metadata = json.loads((task / "metadata.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            metadata = {}
        rows.append(
            {
                "id": f"{task.name}.{answer.stem}",  # a row id is one folder name
                "prompt": prompt.read_text(encoding="utf-8") if prompt.is_file() else None,
                "response": answer.read_text(encoding="utf-8", errors="replace"),
                "kind": kind_of_metadata(metadata) if isinstance(metadata, dict) else None,
            }
        )
    return rows


def scaffold_digest(task: Path) -> str:
    """What the grader reads of a task folder besides the answer: its files outside lib/."""
    digest = hashlib.sha256()
    for path in sorted(p for p in task.rglob("*") if p.is_file() and "lib" not in p.relative_to(task).parts):
        digest.update(path.relative_to(task).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def write_dataset(rows: list[dict[str, str | None]], path: Path) -> None:
    if path.suffix == ".jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    elif path.suffix == ".parquet":
        pd.DataFrame(rows).to_parquet(path)
    else:  # a Hugging Face dataset folder, as `save_to_disk` writes it
        import datasets

        datasets.Dataset.from_list(rows).save_to_disk(str(path))


def by_answer(run: Path) -> dict[str, dict]:
    results = (json.loads(p.read_text()) for p in run.rglob("result.json"))
    return {r["sample_id"]: comparable(r) for r in results}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus" / "cdk-py")
    parser.add_argument("--format", choices=("jsonl", "parquet", "hf"), default="jsonl")
    parser.add_argument("--synth", action="store_true", help="build templates too (slow)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, default=ROOT / ".bench" / "datasets-vs-files")
    args = parser.parse_args(argv)

    shutil.rmtree(args.out, ignore_errors=True)
    args.out.mkdir(parents=True)
    common = {"workers": args.workers, "synth": args.synth, "use_cache": False}
    grade([args.corpus], GradeOptions(out=args.out / "files", **common))  # type: ignore[arg-type]
    # A row has no task folder, so it is given its task's scaffold with --scaffold: the tasks'
    # scaffolds differ (cdk.json context), hence one dataset per distinct scaffold.
    groups: dict[str, tuple[Path, list[dict[str, str | None]]]] = {}
    rows = rows_of(args.corpus)
    for row in rows:
        task = args.corpus / str(row["id"]).split(".", 1)[0]
        groups.setdefault(scaffold_digest(task), (task, []))[1].append(row)
    for n, (scaffold, group) in enumerate(groups.values()):
        dataset = args.out / (f"answers-{n}" if args.format == "hf" else f"answers-{n}.{args.format}")
        write_dataset(group, dataset)
        fields = DatasetFields(kind="kind")
        options = GradeOptions(out=args.out / "rows" / str(n), fields=fields, scaffold=scaffold, **common)  # type: ignore[arg-type]
        grade([dataset], options)

    # A file's sample id is Pr1234/lib/MODEL_RESPONSE; a row's is answers/Pr1234.MODEL_RESPONSE.
    files = {k.replace("/lib/", "."): v for k, v in by_answer(args.out / "files").items()}
    rows_graded = {k.split("/", 1)[1]: v for k, v in by_answer(args.out / "rows").items()}
    differ = []
    for key in sorted(set(files) | set(rows_graded)):
        a, b = files.get(key), rows_graded.get(key)
        if a != b:
            differ.append(key)
            detail = "missing in one run" if a is None or b is None else f"total {a['total']} vs {b['total']}"
            print(f"{key}: {detail}")
    print(
        f"{len(rows)} answers as files and as {args.format} rows ({len(groups)} task scaffolds): "
        f"{len(rows) - len(differ)} identical, {len(differ)} differ"
    )
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())

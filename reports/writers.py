"""The documents a grading run writes, handed to `iacgrade.graders.pipeline.grade` by the layer above.

graders/ grades and never imports reports/; reports/ renders graders' models. The run loop
decides *when* a report can be written (once its reference answer is graded too), so it takes
the renderers as `iacgrade.graders.pipeline.Writers` from its caller (the CLI, the snapshot tools).
"""

from __future__ import annotations

from collections.abc import Sequence

from iacgrade.graders.models import SampleResult
from iacgrade.graders.pipeline import GradeOptions, Writers
from iacgrade.graders.rubric import Rubric
from iacgrade.reports.markdown import render_report

__all__ = ["run_writers", "write_formats"]


def run_writers() -> Writers:
    """Each answer's report.md, and the run's ``--format`` files."""
    return Writers(report=render_report, formats=write_formats)


def write_formats(options: GradeOptions, rubric: Rubric, results: Sequence[SampleResult]) -> None:
    """The CI outputs asked for with --format: results.sarif, junit.xml."""
    if "sarif" in options.formats:
        from iacgrade.reports.sarif import write_sarif

        write_sarif(options.out / "results.sarif", results, rubric)
    if "junit" in options.formats:
        from iacgrade.reports.junit import write_junit

        write_junit(options.out / "junit.xml", results, min_score=options.min_score)

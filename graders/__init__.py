"""iacgrade's pipeline: ingest, extract, workspace, sandboxed synth, checks, scoring, runs."""

__version__ = "0.1.0"

__all__ = ["__version__"]

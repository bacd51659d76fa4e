"""The defaults of a run, defined once: the command line, GradeOptions, ingest and the sandbox read them.

Kept free of imports so that reading them costs the command line nothing.
"""

TIMEOUT_S = 60.0  # wall-clock seconds one answer may build
SCRATCH_MB = 512  # MB of each of the sandbox's job, output and /tmp folders
MAX_ANSWER_BYTES = 5_000_000  # answers larger than this are not graded
ANSWER_PATTERN = "*RESPONSE*.md"  # the answers a folder is searched for
MIN_SCORE = 60.0  # JUnit: answers below this total fail
MAX_REQUEST_BYTES = 2 * MAX_ANSWER_BYTES  # serve: one request body (an answer, JSON-escaped, or a batch)
# Garbage-collector thresholds of the processes that grade (the command's run, the sandbox and
# parse workers, the Ray actors): CPython's default (700, 10, 10) runs a full collection every
# ~70 000 allocations, and cfn-lint and the source checks allocate millions per answer. A full
# collection walks every object the process holds (aws-cdk-lib's API index, cfn-lint's rules):
# 19% of a worker's lint time and 20% of a cold run's own CPU on the cdk-py corpus. Reference
# counting frees everything but cycles, so memory stays where it was (peak RSS measured equal).
GC_THRESHOLDS = (10_000, 10, 10)

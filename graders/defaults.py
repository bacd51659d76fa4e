"""The defaults of a run, defined once: the command line, GradeOptions, ingest and the sandbox read them.

Kept free of imports so that reading them costs the command line nothing.
"""

TIMEOUT_S = 60.0  # wall-clock seconds one answer may build
SCRATCH_MB = 512  # MB of each of the sandbox's job, output and /tmp folders
MAX_ANSWER_BYTES = 5_000_000  # answers larger than this are not graded
ANSWER_PATTERN = "*RESPONSE*.md"  # the answers a folder is searched for
MIN_SCORE = 60.0  # JUnit: answers below this total fail
MAX_REQUEST_BYTES = 2 * MAX_ANSWER_BYTES  # serve: one request body (an answer, JSON-escaped, or a batch)

"""Soak: the kill test of test_crash.py with many more rounds.

    make soak                   200 rounds (ROUNDS=N to change)
    STRATA_CRASH_ROUNDS=500 STRATA_CRASH_SEED=42 /usr/bin/python3 tests/integration/soak_crash.py

Each round runs the mixed write load, SIGKILLs the node at a random moment,
restarts it and checks every acknowledged write and delete (see
test_crash.py); at the end every resolved segment is read again and
`strata-node --check` must be clean. The per-test and whole-file time
limits grow with the number of rounds. Not part of the default suite (its
name does not start with test_).
"""

import os
import sys

rounds = int(os.environ.get("STRATA_CRASH_ROUNDS") or os.environ.get("ROUNDS") or "200")
os.environ["STRATA_CRASH_ROUNDS"] = str(rounds)
os.environ.setdefault("STRATA_IT_SUITE_TIMEOUT", str(rounds * 8 + 600))
if os.environ.get("STRATA_BUILD_DIR"):
    # the node is started from a work directory: the path must be absolute
    os.environ["STRATA_BUILD_DIR"] = os.path.abspath(os.environ["STRATA_BUILD_DIR"])

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from strata_harness import run_main  # noqa: E402
from test_crash import KillTest  # noqa: E402,F401 - collected by unittest

KillTest.rounds = rounds
KillTest.test_timeout = rounds * 6 + 300

if __name__ == "__main__":
    run_main()

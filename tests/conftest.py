import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import tests.engine.toy  # noqa: E402,F401  (registers the engine's test model)
from hypothesis import HealthCheck, settings  # noqa: E402

# Hypothesis profiles, chosen by HYPOTHESIS_PROFILE; "ci" by default when CI is set.
# Neither has a deadline: how long an example takes is no property of the code (speed
# is measured in benchmarks/). "ci" is bounded and derandomized, so a run is the same
# run every time; "dev" explores more and remembers failures in .hypothesis/.
settings.register_profile("dev", max_examples=60, stateful_step_count=40, deadline=None)
settings.register_profile("ci", max_examples=25, stateful_step_count=25, deadline=None,
                          derandomize=True, database=None, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE")
                      or ("ci" if os.environ.get("CI") else "dev"))

# The embedded store (short links) of everything the tests run, this process and the
# servers it starts, lives in a folder of its own, not in the repository's instance/.
if "PLAYGROUND_DATA_DIR" not in os.environ:
    os.environ["PLAYGROUND_DATA_DIR"] = tempfile.mkdtemp(prefix="playground-test-data-")

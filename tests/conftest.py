import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import tests.engine.toy  # noqa: E402,F401  (registers the engine's test model)

# The embedded store (short links) of everything the tests run, this process and the
# servers it starts, lives in a folder of its own, not in the repository's instance/.
if "PLAYGROUND_DATA_DIR" not in os.environ:
    os.environ["PLAYGROUND_DATA_DIR"] = tempfile.mkdtemp(prefix="playground-test-data-")

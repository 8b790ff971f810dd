"""splunkd runs this file for the ``spectra_analyze_enrich`` alert action,
with ``--execute`` and a JSON payload on stdin.

The action's code is the vendored ``connector`` package in ``lib/``; lib
comes first on the path so that the app's own copies of its dependencies win.
"""

import os
import sys
from pathlib import Path

HERE = Path(os.path.abspath(__file__)).parent
sys.path.insert(0, str(HERE / "lib"))

from connector.splunk.alert_action import main  # noqa: E402 (needs the path above)

sys.exit(main(sys.argv, sys.stdin, sys.stderr, HERE.parent))

"""splunkd runs this file for ``| spectraanalyze``.

The command's code is the vendored ``connector`` package in ``lib/``; lib
comes first on the path so that the app's own copies of its dependencies win.
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))

from connector.splunk.command import main  # noqa: E402 (needs the path above)

main()

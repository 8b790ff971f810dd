"""ReversingLabs Spectra Analyze verdicts for file hashes: the library under
the Splunk app, the SOAR app, the rules engine and the command line.

The public API (docs/api.md): the configuration (``Config``,
``CacheSettings``), the client (``SpectraAnalyzeClient``), the lookup path
(``LookupService``, ``ResultCache``), the actions (``get_report``,
``get_summary``, ``run_action``, ``ActionResult``) and the errors, rooted in
``SpectraAnalyzeError``.
"""

__version__ = "1.1.0"

from .actions import ActionResult, get_report, get_summary, run_action  # noqa: E402  (after __version__, which config reads)
from .cache import ResultCache  # noqa: E402
from .client import SpectraAnalyzeClient  # noqa: E402
from .config import CacheSettings, Config  # noqa: E402
from .errors import ApplianceError, AuthenticationError, ConfigurationError, InputError, SpectraAnalyzeError  # noqa: E402
from .service import LookupService  # noqa: E402

__all__ = [
    "ActionResult",
    "ApplianceError",
    "AuthenticationError",
    "CacheSettings",
    "Config",
    "ConfigurationError",
    "InputError",
    "LookupService",
    "ResultCache",
    "SpectraAnalyzeClient",
    "SpectraAnalyzeError",
    "get_report",
    "get_summary",
    "run_action",
]

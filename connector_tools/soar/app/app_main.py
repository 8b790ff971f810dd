"""The Spectra Analyze app's main module (``main_module`` of the app JSON).

SOAR looks for the app JSON beside the file that defines the connector
class, so the class is declared here; what it does lives in
``connector.soar.adapter``.
"""

from connector.soar.adapter import SpectraAnalyzeAdapter


class SpectraAnalyzeConnector(SpectraAnalyzeAdapter):
    """The connector SOAR instantiates for every action run."""

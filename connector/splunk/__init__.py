"""The Splunk adapter: the ``spectraanalyze`` streaming search command and
the enrichment alert action. The app's source tree and its builder are in
``connector_tools.splunk``.

``command`` needs splunklib, which only the built app carries (in
``bin/lib``); the other modules run anywhere.
"""

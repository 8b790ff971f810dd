"""The Splunk adapter: the ``spectraanalyze`` streaming search command and
the packaging of the Splunk app that carries it.

``command`` needs splunklib, which only the built app carries (in
``bin/lib``); the other modules run anywhere.
"""

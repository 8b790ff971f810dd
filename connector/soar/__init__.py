"""Splunk SOAR: the connector adapter (``adapter``) and the custom result
view (``view``), both shipped in the app. The app's main modules, its JSON
generator, its reference docs and its ``.tgz`` builder are in
``connector_tools.soar``."""

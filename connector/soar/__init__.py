"""Splunk SOAR: the connector adapter (``adapter``) and the app's main module
(``app_main``), both shipped in the app, and the app JSON generator
(``app_json``). The app's reference docs and its ``.tgz`` builder are in
``connector_tools.soar``."""

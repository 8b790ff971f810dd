"""Splunk SOAR: the connector adapter (``adapter``) and the app's main module
(``app_main``), both shipped in the app; the app JSON generator
(``app_json``), the app's reference docs (``docs``) and the ``.tgz``
builder (``build``)."""

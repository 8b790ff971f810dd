"""The Splunk app: its source tree (``app/``), pins, builder and generated .conf files."""

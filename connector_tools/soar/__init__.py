"""The SOAR app: its pins, builder and reference docs."""

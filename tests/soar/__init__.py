"""Tests of the SOAR app, the action runner and the playbook."""

"""A stand-in for the ``phantom`` package that exists only on a Splunk SOAR
host, written from SOAR's public app authoring and playbook API docs: enough
of ``phantom.app``, ``phantom.base_connector``, ``phantom.action_result`` and
``phantom.rules`` to run the app and the playbook as SOAR does."""

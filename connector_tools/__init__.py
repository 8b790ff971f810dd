"""Build and documentation tooling: the app builders, the Splunk app's source
tree, the generated tables of docs/. Installed with the connector, never
copied into an app (which carries ``connector/``, its runtime, only)."""

"""Where the app's configuration page (Splunk's UCC framework) keeps its
values: the names of its tabs and fields, shared by the page's definition
(``connector_tools/splunk/ucc.py``, at build time) and by ``accounts.py``,
which reads the values back.

- Appliances: one stanza per appliance in ``spectra_analyze_account.conf``,
  the API token in storage/passwords;
- Proxy, Logging, Settings: the stanzas ``proxy``, ``logging``, ``settings``
  of ``spectra_analyze_settings.conf``, the proxy's password in
  storage/passwords.
"""

APP_ID = "spectra_analyze"
DISPLAY_NAME = "ReversingLabs Spectra Analyze"
ACCOUNT_TAB = "account"
SETTINGS_TAB = "settings"
PROXY_TAB = "proxy"
LOGGING_TAB = "logging"
TOKEN_FIELD = "api_token"
ALLOW_HTTP_FIELD = "allow_http"
DEFAULT_APPLIANCE_FIELD = "default_appliance"
PROXY_PASSWORD_FIELD = "proxy_password"
# The core's settings an appliance carries, in the page's order; the rest of
# the Splunk surface is the Settings tab's, shared by every appliance.
ACCOUNT_SETTINGS = (
    "url",
    "verify_tls",
    "ca_bundle",
    "connect_timeout",
    "read_timeout",
    "batch_size",
    "max_connections",
    "max_attempts",
    "retry_deadline",
)
CACHE_SETTINGS = ("cache", "cache_ttl", "cache_not_found_ttl", "cache_max_entries", "cache_store")
MEMO_SETTING = "memo_size"
LOG_LEVEL_SETTING = "log_level"
NAME_PATTERN = r"^[A-Za-z][A-Za-z0-9_-]{0,49}$"
# The page's check of the address's form; accounts.py checks the scheme against "allow plain HTTP".
URL_PATTERN = r"^https?://[A-Za-z0-9.\-\[\]:]+(:\d{1,5})?/?$"
PAGE_HINT = "Apps > ReversingLabs Spectra Analyze > Configuration"

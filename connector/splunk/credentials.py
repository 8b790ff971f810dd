"""The API token, read from Splunk's ``storage/passwords`` through the
search's own session, in the app's namespace.

An admin stores it once (README.md, "Store the API token"); the token is
never a search option, never in a file under ``default/`` or ``local/``.
"""

from __future__ import annotations

import http.client
from typing import Any

from ..errors import ConfigurationError, excerpt

REALM = "spectra_analyze"
USERNAME = "api_token"
_PASSWORDS = "curl -k -u admin https://localhost:8089/servicesNS/nobody/{app}/storage/passwords"
STORE_HINT = (
    f"an admin stores it with: {_PASSWORDS} -d name={USERNAME} -d realm={REALM} "
    "--data-urlencode password@token.txt (see the app's README)"
)
REPLACE_HINT = (
    f"an admin replaces the stored token with: {_PASSWORDS}/{REALM}%3A{USERNAME}%3A "
    "--data-urlencode password@token.txt (see the app's README)"
)


def read_token(service: Any, app: str) -> str:
    """The clear token of ``<REALM>:<USERNAME>:`` in ``app``'s namespace.

    ``service`` is the search's ``splunklib.client.Service``. Raises
    ``ConfigurationError`` saying what to fix.
    """
    from splunklib.binding import HTTPError, namespace  # only the built app carries splunklib

    if service is None:
        raise ConfigurationError("splunkd passed no session to the command, so the API token cannot be read")
    hint = STORE_HINT.format(app=app)
    try:
        entry = service.storage_passwords[f"{REALM}:{USERNAME}:", namespace(owner="nobody", app=app)]
    except KeyError:
        raise ConfigurationError(
            f"no API token is stored for the app {app} (realm {REALM}, username {USERNAME}); " + hint
        ) from None
    except HTTPError as err:
        raise ConfigurationError(_refusal(err.status, app)) from None
    except (OSError, http.client.HTTPException) as err:  # refused, reset, TLS, or an answer that is not HTTP
        raise ConfigurationError(
            f"could not reach splunkd to read the API token: {type(err).__name__}: {excerpt(str(err), None)}"
        ) from None
    token = entry.clear_password
    if not token or not str(token).strip():
        raise ConfigurationError(f"the stored API token (realm {REALM}, username {USERNAME}) is empty; " + hint)
    return str(token)


def _refusal(status: int, app: str) -> str:
    if status == 403:
        return (
            "the user running this search may not read the stored API token: give their role the "
            f"list_storage_passwords capability and read access to the app {app}'s credential"
        )
    if status == 401:
        return "splunkd refused the search's session while reading the API token; run the search again"
    return f"splunkd answered HTTP {status} while reading the API token from storage/passwords"

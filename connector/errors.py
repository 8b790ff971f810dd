"""One exception hierarchy, branched by what the caller does next.

- ``InputError``: fix the hashes, fields or parameters given.
- ``ConfigurationError``: fix the configuration (URL, token, TLS). Every lookup
  would fail the same way, so callers stop rather than retry.
- ``ApplianceError``: this lookup failed (rate limited, server error, network,
  malformed answer). Other batches may still succeed; retrying later may help.

Messages say what to do next and never contain the token: the client never
puts it in a message, and ``excerpt`` scrubs it from response bodies.
"""

from __future__ import annotations

from typing import Optional


class SpectraAnalyzeError(Exception):
    """Root of every error this package raises on purpose."""

    def __init__(
        self, message: str, *, status: Optional[int] = None, attempts: int = 0, body_excerpt: str = ""
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.attempts = attempts
        self.body_excerpt = body_excerpt

    def __str__(self) -> str:
        return self.message


class InputError(SpectraAnalyzeError):
    """Bad hashes, field names or parameter values: fix the input."""


class ConfigurationError(SpectraAnalyzeError):
    """Bad or unusable configuration: fix it before trying again."""


class AuthenticationError(ConfigurationError):
    """The appliance refused the token (401/403)."""


class EndpointNotFoundError(ConfigurationError):
    """The appliance answered 404: the URL does not point at a Spectra Analyze appliance."""


class TLSVerificationError(ConfigurationError):
    """The appliance's certificate could not be verified."""


class ApplianceError(SpectraAnalyzeError):
    """A lookup failed; the hashes it carried are marked as errors."""


class RateLimitedError(ApplianceError):
    """429 past the retry budget."""


class ServerError(ApplianceError):
    """5xx past the retry budget (or a 500, which is not retried)."""


class BadRequestError(ApplianceError):
    """The appliance rejected the request (400)."""


class TransportError(ApplianceError):
    """Connection refused or reset, or a timeout, past the retry budget."""


class MalformedResponseError(ApplianceError):
    """The answer was not the documented JSON: bad JSON, too large, a redirect."""


class SchemaViolationError(MalformedResponseError):
    """A response, or one result item, does not match its JSON Schema."""


def excerpt(body: str, secret: Optional[str], limit: int = 200) -> str:
    """A short, single-line, secret-free excerpt of a response body for messages."""
    text = " ".join(body.split())
    if secret:
        text = text.replace(secret, "***")
    return text[:limit] + ("..." if len(text) > limit else "")

"""The app's view module (``render.view`` of the app JSON). SOAR imports it
from the app folder; what it does lives in ``connector.soar.view``."""

from connector.soar.view import display_view

__all__ = ["display_view"]

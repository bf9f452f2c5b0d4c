"""The web application and API (`accord serve`)."""

from accord.web.app import create_app

__all__ = ["create_app"]

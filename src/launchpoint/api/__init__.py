"""The REST API under /v1: FastAPI, one error envelope for every error."""

from launchpoint.api.app import create_app

__all__ = ["create_app"]

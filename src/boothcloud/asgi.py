"""ASGI entry point for uvicorn workers: settings from the environment, schema must be current."""

from boothcloud.app import create_app

app = create_app()

"""catalog views."""

from starlette.routing import BaseRoute

routes: list[BaseRoute] = []

"""Generic collection and item resources over :class:`~business.crud.Spec`.

``GET /api/v1/<name>`` lists (``page``, ``per_page``, ``q`` and per-collection
filters), ``POST`` creates, ``GET|PATCH|DELETE /api/v1/<name>/<id>`` reads,
changes and deletes one record. Extra sub-resources (``/assets/<id>/live``,
``/attendance/summary``) are added with ``extra_item`` / ``extra_collection``.
"""

from __future__ import annotations

from typing import Callable

from .base import Api, JsonResource, query_params, read_json


class ItemResource(JsonResource):
    """One record of a collection."""

    isLeaf = False

    def __init__(self, api: Api, name: str, ident: str, extras: dict[str, Callable] | None = None) -> None:
        super().__init__(api)
        self.name, self.ident, self.extras = name, ident, extras or {}

    def getChild(self, path, request):
        key = path.decode()
        if key in self.extras:
            return self.extras[key](self.api, self.name, self.ident)
        return super().getChild(path, request)

    async def handle_GET(self, request, principal):
        return 200, await self.api.db.run(self.api.crud.get, principal, self.name, self.ident)

    async def handle_PATCH(self, request, principal):
        body = read_json(request)
        return 200, await self.api.db.run(self.api.crud.update, principal, self.name, self.ident, body)

    async def handle_DELETE(self, request, principal):
        await self.api.db.run(self.api.crud.delete, principal, self.name, self.ident)
        return 204, None


class CollectionResource(JsonResource):
    """A whole collection."""

    def __init__(self, api: Api, name: str, item_extras: dict[str, Callable] | None = None,
                 collection_extras: dict[str, Callable] | None = None) -> None:
        super().__init__(api)
        self.name = name
        self.item_extras = item_extras or {}
        self.collection_extras = collection_extras or {}

    def getChild(self, path, request):
        key = path.decode()
        if key == "":
            return self
        if key in self.collection_extras:
            return self.collection_extras[key](self.api, self.name)
        return ItemResource(self.api, self.name, key, self.item_extras)

    async def handle_GET(self, request, principal):
        return 200, await self.api.db.run(self.api.crud.list, principal, self.name, query_params(request))

    async def handle_POST(self, request, principal):
        body = read_json(request)
        return 201, await self.api.db.run(self.api.crud.create, principal, self.name, body)

"""The OpenAPI registry: documents are built from declared operations and refuse inconsistent ones."""

from __future__ import annotations

import pytest
from twisted.internet import task

from tagdb.api.openapi import OpenApiError, Operation, Param, Response, build_document, errors, ref
from tagdb.api.routes import CORE_OPERATIONS, openapi_document
from tagdb.server.context import ServerContext
from tagdb.site.model import SiteModel

SITE = SiteModel(name="doc", timezone="UTC", files=(), buildings=(), devices={}, tags=(), equipment=(),
                 sections={})
THING = {"type": "object", "properties": {"id": {"type": "integer"}}}


def op(method="GET", path="/things/{id}", params=(Param("id", "path"),), schemas=None, op_id="getThing"):
    return Operation(method, path, "A thing", op_id, parameters=params, permission="things.read",
                     responses={200: Response("the thing", ref("Thing")), **errors(404)},
                     schemas=schemas if schemas is not None else {"Thing": THING})


def test_document_shape():
    doc = build_document([op()], title="t", version="1.2.3")
    assert doc["openapi"] == "3.1.0" and doc["info"] == {"title": "t", "version": "1.2.3"}
    assert doc["servers"] == [{"url": "/api/v1"}]
    get = doc["paths"]["/things/{id}"]["get"]
    assert get["parameters"] == [{"name": "id", "in": "path", "schema": {"type": "string"}, "required": True}]
    assert get["responses"]["404"]["content"]["application/json"]["schema"] == ref("Error")
    assert get["security"] == [{"bearer": []}] and get["x-permission"] == "things.read"
    assert doc["components"]["schemas"]["Thing"] == THING
    assert doc["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"


@pytest.mark.parametrize("ops, problem", [
    ([op(), op(op_id="again")], "GET /things/{id} is declared twice"),
    ([op(params=())], "path parameters ['id'] but declared []"),
    ([op(path="things")], "must start with '/'"),
    ([op(method="FETCH")], "unknown method 'FETCH'"),
    ([op(), op(method="PUT", op_id="putThing", schemas={"Thing": {"type": "string"}})],
     "schema 'Thing' conflicts"),
])
def test_inconsistent_operations_are_refused(ops, problem):
    with pytest.raises(OpenApiError, match=problem.replace("[", r"\[").replace("]", r"\]")
                       .replace("{", r"\{").replace("}", r"\}")):
        build_document(ops, title="t", version="1")


def test_mounts_must_document_paths_under_their_name():
    ctx = ServerContext(site=SITE, reactor=task.Clock(), data_dir=".")
    with pytest.raises(ValueError, match="not under the mount /widgets"):
        ctx.mount_api("widgets", object(), [op()])
    assert "widgets" not in ctx.api_routes
    ctx.mount_api("things", object(), [op()])
    with pytest.raises(ValueError, match="already mounted"):
        ctx.mount_api("things", object())
    with pytest.raises(ValueError, match="already mounted"):
        ctx.mount_api("tags", object())
    doc = openapi_document(ctx, "1")
    assert set(doc["paths"]) == {o.path for o in CORE_OPERATIONS} | {"/things/{id}"}

"""The published contracts: the AsyncAPI (websocket) and OpenAPI (HTTP) documents, bundled.

docs/asyncapi.yaml and docs/openapi.yaml are the source of truth, written by hand beside the
prose of docs/protocol.md; they point into each other and into schema.json (the events' JSON
Schema, generated from the models: tracker/core/schema.py). A reader of one served document
should not have to fetch three, so `bundle` copies every schema a document points to outside
itself into its own `components.schemas`, under the name its pointer ends with, and rewrites
the `$ref`s to match. The server serves the results at /api/asyncapi.json and
/api/openapi.json; the tests validate the server's messages and answers against them.
"""

from __future__ import annotations

import copy
import functools
from pathlib import Path
from typing import Any

import orjson
import yaml

from .core.schema import json_schema

DOCUMENTS = ("asyncapi.yaml", "openapi.yaml")
SCHEMA = "schema.json"  # generated: json_schema(), of which docs/schema.json is a copy


class ContractError(Exception):
    """A document that cannot be bundled: a dangling `$ref`, or two schemas under one name."""


def contracts_dir() -> Path:
    """docs/ in a checkout, or tracker/_contracts in an installed wheel (pyproject's force-include)."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "_contracts", here.parent / "docs"):
        if (candidate / DOCUMENTS[0]).is_file():
            return candidate
    raise FileNotFoundError(f"no contract documents ({', '.join(DOCUMENTS)}) beside {here}: reinstall tracker")


def load(name: str, folder: Path | None = None) -> dict[str, Any]:
    """One document as written (its `$ref`s not followed); schema.json is the generated schema."""
    if name == SCHEMA:
        return json_schema()
    path = (folder or contracts_dir()) / name
    if name not in DOCUMENTS:
        raise ContractError(f"'{name}' is not one of the contract documents: {', '.join((*DOCUMENTS, SCHEMA))}")
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ContractError(f"{path}: expected a YAML mapping at the top, got {type(data).__name__}")
    return data


def bundle(name: str, folder: Path | None = None, documents: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """`name` with every schema it points to in another document copied into its
    components.schemas. `documents` replaces files by name (tests plant drift this way)."""
    given = documents or {}

    @functools.cache
    def document(file: str) -> dict[str, Any]:
        return given[file] if file in given else load(file, folder)

    root = copy.deepcopy(document(name))
    schemas: dict[str, Any] = root.setdefault("components", {}).setdefault("schemas", {})
    own = set(schemas)
    pulled: dict[tuple[str, str], str] = {}

    def target(ref: str, base: str) -> str:
        file, _, pointer = ref.partition("#")
        file = file or base
        if file == name:
            return "#" + pointer
        key = (file, pointer)
        if key not in pulled:
            short = pointer.rsplit("/", 1)[-1]
            if short in own or short in pulled.values():
                raise ContractError(f"{name}: '{file}#{pointer}' would be bundled as components/schemas/{short}, "
                                    "which is taken; rename one of them")
            pulled[key] = short
            schemas[short] = rewrite(resolve(document(file), pointer, f"{file}#{pointer}"), file)
        return f"#/components/schemas/{pulled[key]}"

    def rewrite(node: Any, base: str) -> Any:
        if isinstance(node, dict):
            out = {k: rewrite(v, base) for k, v in node.items()}
            if isinstance(node.get("$ref"), str):
                out["$ref"] = target(node["$ref"], base)
            return out
        if isinstance(node, list):
            return [rewrite(v, base) for v in node]
        return node

    bundled = rewrite({k: v for k, v in root.items() if k != "components"}, name)
    components = rewrite({k: v for k, v in root["components"].items() if k != "schemas"}, name)
    for key in list(schemas):
        if key in own:
            schemas[key] = rewrite(schemas[key], name)
    return {**bundled, "components": {**components, "schemas": dict(sorted(schemas.items()))}}


def resolve(document: Any, pointer: str, where: str) -> Any:
    """The value at a JSON pointer ("/components/schemas/Event"), or a ContractError naming it."""
    node = document
    for part in pointer.split("/")[1:] if pointer else []:
        part = part.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            raise ContractError(f"$ref '{where}' points to nothing: no '{part}' there")
    return node


@functools.cache
def served(name: str) -> bytes:
    """The bundled document as JSON, built once per process (GET /api/asyncapi.json, /api/openapi.json)."""
    return orjson.dumps(bundle(name))

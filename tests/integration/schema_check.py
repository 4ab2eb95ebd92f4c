"""Validation of a document against one of airlock's JSON Schemas (schemas/,
draft 2020-12), with the $refs between them resolved."""
import json
import pathlib

SCHEMAS = pathlib.Path(__file__).resolve().parents[2] / "schemas"


def check_schema(doc, name):
    """Validates doc against schemas/NAME; raises jsonschema.ValidationError."""
    from jsonschema import Draft202012Validator, RefResolver
    by_id = {}
    for path in SCHEMAS.glob("*.schema.json"):
        schema = json.loads(path.read_text())
        by_id[schema["$id"]] = schema
    schema = json.loads((SCHEMAS / name).read_text())
    resolver = RefResolver(base_uri=schema["$id"], referrer=schema, store=by_id)
    Draft202012Validator(schema, resolver=resolver).validate(doc)

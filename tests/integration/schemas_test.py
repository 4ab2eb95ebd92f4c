#!/usr/bin/env python3
"""Validates every file airlock writes that crosses a boundary against its
JSON Schema in schemas/ (draft 2020-12), using real files made by the code.

    schemas_test.py SCHEMA_DIR FIXTURE_TOOL
"""
import json
import pathlib
import subprocess
import sys
import tempfile

from jsonschema import Draft202012Validator

try:  # jsonschema >= 4.18
    from referencing import Registry, Resource
except ImportError:  # Debian 12's jsonschema 4.10
    Registry = None

schema_dir = pathlib.Path(sys.argv[1])
fixture_tool = sys.argv[2]

schemas = {}
for path in schema_dir.glob("*.schema.json"):
    doc = json.loads(path.read_text())
    Draft202012Validator.check_schema(doc)
    schemas[path.name] = doc

if Registry is not None:
    registry = Registry()
    for doc in schemas.values():
        registry = registry.with_resource(doc["$id"], Resource.from_contents(doc))

    def validator(name):
        return Draft202012Validator(schemas[name], registry=registry)
else:
    from jsonschema import RefResolver

    by_id = {doc["$id"]: doc for doc in schemas.values()}

    def validator(name):
        resolver = RefResolver(base_uri=schemas[name]["$id"], referrer=schemas[name], store=by_id)
        return Draft202012Validator(schemas[name], resolver=resolver)


checked = 0


def check(name, instance, where):
    global checked
    errors = sorted(validator(name).iter_errors(instance), key=str)
    if errors:
        sys.exit(f"FAIL {where} against {name}: {errors[0].message} at {list(errors[0].path)}")
    checked += 1


def refuse(name, instance, where):
    """Schemas must also reject what the code rejects."""
    global checked
    if not list(validator(name).iter_errors(instance)):
        sys.exit(f"FAIL {where}: {name} accepted an invalid document")
    checked += 1


with tempfile.TemporaryDirectory() as tmp:
    fx = pathlib.Path(tmp) / "fx"
    bundle = pathlib.Path(subprocess.run([fixture_tool, str(fx)], check=True, capture_output=True,
                                         text=True).stdout.strip())
    manifest = json.loads((bundle / "manifest.json").read_text())
    check("bundle-manifest.schema.json", manifest, "manifest.json")
    check("bundle-signatures.schema.json", json.loads((bundle / "manifest.sig.json").read_text()),
          "manifest.sig.json")
    check("trust-policy.schema.json", json.loads((fx / "trust.json").read_text()), "trust.json")
    check("snapshot.schema.json", json.loads((fx / "snapshot.json").read_text()), "snapshot")
    check("inclusion-proof.schema.json", json.loads((fx / "proof.json").read_text()), "proof.json")
    for i, line in enumerate((fx / "log" / "transfer-000001.jsonl").read_text().splitlines()):
        check("log-record.schema.json", json.loads(line), f"log record {i}")
    for record in manifest["log"]:
        check("log-record.schema.json", record, "manifest log record")

    bad = dict(manifest, format="airlock-bundle/2")
    refuse("bundle-manifest.schema.json", bad, "wrong format")
    bad = dict(manifest, extra=1)
    refuse("bundle-manifest.schema.json", bad, "extra field")
    bad = dict(manifest, volumes=[dict(manifest["volumes"][0], name="../data.000")])
    refuse("bundle-manifest.schema.json", bad, "volume name")
    bad = json.loads((fx / "log" / "transfer-000001.jsonl").read_text().splitlines()[1])
    bad["note"] = "forged"
    refuse("log-record.schema.json", bad, "checkpoint note")

print(f"schemas_test: {checked} documents checked")

"""The Mail Send request schema, taken from SendGrid's own OpenAPI description.

Validating against Twilio's published schema (vendored in `openapi/`, MIT) instead
of a hand-written copy means the sink rejects what the real API rejects for shape
and type reasons, and a future refresh of the file updates the sink for free.
The description has two known gaps, against the live API and the official client, that are
patched here, in one place, so the patch is visible and reviewable (`_patch_known_gaps`).
"""

from __future__ import annotations

import copy
import json
import os
from functools import lru_cache
from pathlib import Path
from typing import Any

import jsonschema

VENDORED_SPEC = Path(__file__).resolve().parent / "openapi" / "tsg_mail_v3.json"
SPEC_ENV_VAR = "REENGAGE_SENDGRID_OPENAPI"


def spec_path() -> Path:
    """The OpenAPI file in use: an override from the environment, else the vendored copy."""
    return Path(os.environ.get(SPEC_ENV_VAR, VENDORED_SPEC))


def _resolve_refs(node: Any, root: dict[str, Any]) -> Any:
    """Inline local `$ref`s so the schema stands alone for jsonschema.

    OpenAPI 3.0 lets siblings sit next to `$ref` (e.g. `disposition` has a
    `default`); they are merged over the referenced schema rather than dropped.
    """
    if isinstance(node, list):
        return [_resolve_refs(item, root) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        target: Any = root
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        merged = dict(_resolve_refs(target, root))
        merged.update({k: _resolve_refs(v, root) for k, v in node.items() if k != "$ref"})
        return merged
    return {k: _resolve_refs(v, root) for k, v in node.items()}


def _patch_known_gaps(schema: dict[str, Any]) -> dict[str, Any]:
    """Fix the description's two known gaps, so the sink matches the live API.

    1. Message-level `custom_args` is typed as a string; the live API and the
       official client send an object of string values.
    2. No minimum on `personalizations` or `to`; the live API needs one of each.
    Personalization-level `custom_args` values are also required to be strings,
    as the live API documents, so a non-string id is caught here and not later.
    """
    schema = copy.deepcopy(schema)
    props = schema["properties"]
    props["custom_args"] = {"type": "object", "additionalProperties": {"type": "string"}}
    props["personalizations"]["minItems"] = 1
    personalization = props["personalizations"]["items"]
    personalization["properties"]["to"]["minItems"] = 1
    personalization["properties"]["custom_args"]["additionalProperties"] = {"type": "string"}
    return schema


@lru_cache(maxsize=4)
def mail_send_schema(path: str | None = None) -> dict[str, Any]:
    """The patched JSON schema of a `POST /v3/mail/send` body."""
    spec = json.loads(Path(path or spec_path()).read_text(encoding="utf-8"))
    body = spec["components"]["requestBodies"]["PostMailSend"]["content"]["application/json"]["schema"]
    return _patch_known_gaps(_resolve_refs(body, spec))


def build_validator(format_checker: jsonschema.FormatChecker) -> jsonschema.protocols.Validator:
    """A Draft 7 validator (OpenAPI 3.0 schemas are a Draft 4/7 subset plus ignorable keywords)."""
    return jsonschema.Draft7Validator(mail_send_schema(), format_checker=format_checker)

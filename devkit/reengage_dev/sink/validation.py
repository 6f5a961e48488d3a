"""Validate a Mail Send body the way SendGrid does, and say why in SendGrid's words.

Two layers: the OpenAPI schema (shape, types, sizes the description encodes) and
the rules the description cannot express (subject or template, content unless
template, recipient totals, duplicates, custom_args and substitutions bytes, the
send_at horizon, known batch ids). Error messages never repeat a submitted value: the sender stores
the provider's reason in its ledger and that must never carry an email address.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jsonschema

from reengage_dev.sink.schema import build_validator

MAX_PERSONALIZATIONS = 1000
MAX_RECIPIENTS = 1000
MAX_CUSTOM_ARGS_BYTES = 10_000
MAX_SUBSTITUTIONS_BYTES = 10_000
MAX_SEND_AT_AHEAD_SECONDS = 72 * 3600
MAX_BODY_BYTES = 30 * 1024 * 1024

_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_EMAIL_RE = re.compile(
    rf"^{_ATOM}(?:\.{_ATOM})*@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{{0,61}}[A-Za-z0-9])?\.)+[A-Za-z]{{2,63}}$"
)


def is_valid_email(address: object) -> bool:
    """Practical RFC 5321 syntax: dot-atom local part, a dotted domain, length limits."""
    if not isinstance(address, str) or len(address) > 254:
        return False
    local, _, _ = address.partition("@")
    return len(local) <= 64 and bool(_EMAIL_RE.match(address))


_format_checker = jsonschema.FormatChecker(formats=())
_format_checker.checks("email")(is_valid_email)
_validator = build_validator(_format_checker)


@dataclass(frozen=True)
class FieldError:
    """One entry of SendGrid's `{"errors": [...]}` answer."""

    message: str
    field: str | None

    def as_dict(self) -> dict[str, Any]:
        return {"message": self.message, "field": self.field, "help": None}


# SendGrid's wording for the errors users meet most, keyed by field path pattern.
_REQUIRED_MESSAGES: dict[str, str] = {
    "personalizations": (
        "The personalizations field is required and must have at least one personalization."
    ),
    "from": (
        "The from object must be provided for every email send. It is an object that requires "
        "the email parameter, but may also contain a name parameter."
    ),
    "from.email": "The from object must have an email parameter.",
    "to": (
        "The to array is required for all personalization objects, and must have at least one "
        "email object with a valid email address."
    ),
}


def _field(path: list[Any]) -> str | None:
    return ".".join(str(p) for p in path) or None


def _schema_error(error: jsonschema.ValidationError) -> FieldError:
    """Translate a jsonschema error without echoing the offending value."""
    path = list(error.absolute_path)
    kind = error.validator
    if kind == "required":
        missing = next((p for p in error.validator_value if p not in (error.instance or {})), "")
        field = _field([*path, missing])
        generic = _REQUIRED_MESSAGES.get(missing, f"The {missing} field is required.")
        return FieldError(_REQUIRED_MESSAGES.get(field or "", generic), field)
    field = _field(path)
    last = str(path[-1]) if path else ""
    if kind == "format" and error.validator_value == "email":
        return FieldError("Does not contain a valid address.", field)
    if kind == "minItems" and last in ("personalizations", "to"):
        return FieldError(_REQUIRED_MESSAGES[last], field)
    if kind == "maxItems" and last == "personalizations":
        return FieldError("The personalizations field must have at most 1000 personalizations.", field)
    if kind == "maxItems" and last == "categories":
        return FieldError("Too many categories. A message may have at most 10 categories.", field)
    if kind == "maxItems":
        return FieldError(f"The {last} array may have at most {error.validator_value} items.", field)
    if kind == "minItems":
        return FieldError(f"The {last} array must have at least {error.validator_value} item(s).", field)
    if kind == "minLength":
        return FieldError(f"The {last} field must not be empty.", field)
    if kind == "maxLength":
        return FieldError(f"The {last} field may be at most {error.validator_value} characters.", field)
    if kind == "uniqueItems":
        return FieldError(f"The {last} array must not contain duplicate items.", field)
    if kind == "maxProperties":
        return FieldError(f"The {last} object may have at most {error.validator_value} keys.", field)
    if kind == "type":
        return FieldError(f"Invalid type. Expected: {error.validator_value}.", field)
    if kind == "enum":
        return FieldError(f"Must be one of: {', '.join(map(str, error.validator_value))}.", field)
    return FieldError(f"The {last or 'request'} field is invalid ({kind}).", field)


def _size_bound(args: dict[str, Any]) -> int:
    """An upper bound of `_json_bytes` for string maps (6 bytes per character at most, \\uXXXX)."""
    values = args.values()
    if not set(map(type, values)) <= _STR_ONLY:
        return 2**31  # unknown: take the exact count
    return 2 + 6 * (sum(map(len, args)) + sum(map(len, values)) + len(args))


_STR_ONLY = frozenset({str})
_RECIPIENT_KINDS = ("to", "cc", "bcc")


def _json_bytes(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))


def _rule_errors(body: dict[str, Any], now: float, batch_exists: Callable[[str], bool]) -> list[FieldError]:
    """Rules the OpenAPI description cannot express; runs on a schema-valid body.

    One pass over the personalizations gathers each rule's errors (a 1,000-personalization
    request is the common case, so per-personalization work is kept to a few lookups);
    they are reported rule by rule, in the order the rules are listed.
    """
    errors: list[FieldError] = []
    personalizations: list[dict[str, Any]] = body["personalizations"]
    has_template = bool(body.get("template_id"))

    if not has_template and not body.get("subject") and not all(p.get("subject") for p in personalizations):
        errors.append(
            FieldError(
                "The subject is required. You can get around this requirement if you use a template "
                "with a subject defined or if every personalization has a subject defined.",
                "subject",
            )
        )
    if not has_template and not body.get("content"):
        errors.append(
            FieldError(
                "Unless a valid template_id is provided, the content parameter is required. "
                "There must be at least one defined content block.",
                "content",
            )
        )

    message_args = body.get("custom_args") or {}
    message_args_fit = _json_bytes(message_args) < MAX_CUSTOM_ARGS_BYTES
    horizon = now + MAX_SEND_AT_AHEAD_SECONDS
    total = 0
    seen: set[str] = set()
    duplicates: list[FieldError] = []
    oversized_args: list[FieldError] = []
    oversized_substitutions: list[FieldError] = []
    too_late: list[FieldError] = []
    for i, p in enumerate(personalizations):
        for kind in _RECIPIENT_KINDS:
            recipients = p.get(kind)
            if not recipients:
                continue
            total += len(recipients)
            for j, recipient in enumerate(recipients):
                address = str(recipient.get("email", "")).lower()
                if address in seen:
                    duplicates.append(
                        FieldError(
                            "Each email address must be unique within a request; this address "
                            "already appears in an earlier personalization or recipient list.",
                            f"personalizations.{i}.{kind}.{j}.email",
                        )
                    )
                seen.add(address)
        if message_args_fit:
            own_args = p.get("custom_args") or {}
            merged = {**message_args, **own_args} if message_args else own_args
            if _size_bound(merged) >= MAX_CUSTOM_ARGS_BYTES and _json_bytes(merged) >= MAX_CUSTOM_ARGS_BYTES:
                oversized_args.append(
                    FieldError(
                        "The custom_args of a personalization, together with the message-level "
                        "custom_args, must be less than 10,000 bytes.",
                        f"personalizations.{i}.custom_args",
                    )
                )
        substitutions = p.get("substitutions")
        if (
            substitutions
            and _size_bound(substitutions) > MAX_SUBSTITUTIONS_BYTES
            and _json_bytes(substitutions) > MAX_SUBSTITUTIONS_BYTES
        ):
            oversized_substitutions.append(
                FieldError(
                    "The total collective size of your substitutions may not exceed 10,000 bytes "
                    "per personalization object.",
                    f"personalizations.{i}.substitutions",
                )
            )
        send_at = p.get("send_at")
        if send_at is not None and send_at > horizon:
            too_late.append(_too_late(f"personalizations.{i}.send_at"))

    if total > MAX_RECIPIENTS:
        errors.append(
            FieldError(
                f"The total number of recipients must be no more than {MAX_RECIPIENTS}.",
                "personalizations",
            )
        )
    errors += duplicates
    if not message_args_fit:
        errors.append(FieldError("The custom_args field must be less than 10,000 bytes.", "custom_args"))
    errors += oversized_args
    errors += oversized_substitutions
    body_send_at = body.get("send_at")
    if body_send_at is not None and body_send_at > horizon:
        errors.append(_too_late("send_at"))
    errors += too_late

    batch_id = body.get("batch_id")
    if batch_id is not None and not batch_exists(batch_id):
        errors.append(
            FieldError("The batch_id is not valid: create it with POST /v3/mail/batch.", "batch_id")
        )
    return errors


def _too_late(field: str) -> FieldError:
    return FieldError("The send_at parameter can't be scheduled more than 72 hours in advance.", field)


_PLAIN_KEYS = frozenset(
    {"to", "subject", "headers", "substitutions", "dynamic_template_data", "custom_args", "send_at"}
)
_ADDRESS_KEYS = frozenset({"email", "name"})


def _string_map(value: Any) -> bool:
    return type(value) is dict and len(value) <= 10_000 and set(map(type, value.values())) <= _STR_ONLY


def _plain_personalization(p: Any) -> bool:
    """A quick check that accepts only personalizations the schema certainly accepts.

    It covers the shape senders use (a `to` list of addresses, custom_args, send_at,
    template data or substitutions) and answers False for anything else, which then
    goes through the full schema validator and gets its exact error. So it can only
    make validation faster, never more lenient.
    """
    if type(p) is not dict or not _PLAIN_KEYS.issuperset(p):
        return False
    to = p.get("to")
    if type(to) is not list or not to:
        return False
    for recipient in to:
        if type(recipient) is not dict or not _ADDRESS_KEYS.issuperset(recipient):
            return False
        if not is_valid_email(recipient.get("email")):
            return False
        if "name" in recipient and type(recipient["name"]) is not str:
            return False
    for key in ("substitutions", "custom_args"):
        if key in p and not _string_map(p[key]):
            return False
    for key in ("headers", "dynamic_template_data"):
        if key in p and type(p[key]) is not dict:
            return False
    if "subject" in p and (type(p["subject"]) is not str or not p["subject"]):
        return False
    return "send_at" not in p or type(p["send_at"]) is int


def _schema_errors(body: dict[str, Any]) -> list[jsonschema.ValidationError]:
    """The schema's errors; personalizations after the first skip jsonschema when plainly valid.

    jsonschema takes ~0.3 ms per personalization, most of a 1,000-personalization
    request. When every personalization after the first passes `_plain_personalization`
    (and the array is within its size limits) they are valid items, so validating the
    body with only the first one yields exactly the errors of the whole body.
    """
    personalizations = body.get("personalizations")
    if (
        type(personalizations) is list
        and 1 < len(personalizations) <= 1000
        and all(_plain_personalization(p) for p in personalizations[1:])
    ):
        body = {**body, "personalizations": personalizations[:1]}
    return list(_validator.iter_errors(body))


def validate_mail_send(
    body: Any, *, now: float, batch_exists: Callable[[str], bool] = lambda _: True
) -> list[FieldError]:
    """All reasons SendGrid would answer 400 to this body; empty means acceptable."""
    if not isinstance(body, dict):
        return [FieldError("The request body must be a JSON object.", None)]
    schema_errors = sorted(_schema_errors(body), key=lambda e: [str(p) for p in e.absolute_path])
    if schema_errors:
        return [_schema_error(e) for e in schema_errors]
    return _rule_errors(body, now, batch_exists)


def effective_send_at(body: dict[str, Any], personalization: dict[str, Any]) -> int | None:
    """When a personalization is due: its own send_at wins over the message-level one."""
    value = personalization.get("send_at", body.get("send_at"))
    return int(value) if value is not None else None

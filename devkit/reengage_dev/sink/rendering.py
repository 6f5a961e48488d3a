"""What each recipient of an accepted request receives, as SendGrid would deliver it.

Without a dynamic template, a personalization's message is the request's `content` and
its subject (the personalization's own `subject`, else the message-level one), with the
personalization's `substitutions` applied: every occurrence of a tag is replaced by its
value, in one pass (a value put in is not searched again; where tags overlap, the longest
wins). With a dynamic template (`template_id` starting `d-`) SendGrid renders the template
it stores from the personalization's `dynamic_template_data`; the sink has no copy of
those templates, so it keeps the template id and the data the message was rendered from.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any, NamedTuple

_encode = json.JSONEncoder(ensure_ascii=False, sort_keys=True).encode


class Delivered(NamedTuple):
    """One recipient's message: `content` and `template_data` as JSON text (how the store keeps them)."""

    subject: str | None
    content: str | None  # {"text/plain": ..., "text/html": ...}
    template_id: str | None
    template_data: str | None


def delivered(body: Mapping[str, Any], personalization: Mapping[str, Any]) -> Delivered:
    """The message one personalization of a valid Mail Send body stands for."""
    template_id = body.get("template_id") or None
    if template_id is not None and template_id.startswith("d-"):
        data = personalization.get("dynamic_template_data") or {}
        return Delivered(None, None, template_id, _encode(data))
    subject = personalization.get("subject") or body.get("subject")
    parts = {part["type"]: part["value"] for part in body.get("content") or ()}
    substitutions = personalization.get("substitutions")
    if substitutions:
        substitute = substituter(tuple(substitutions))
        subject = None if subject is None else substitute(subject, substitutions)
        parts = {kind: substitute(value, substitutions) for kind, value in parts.items()}
    return Delivered(subject, _encode(parts), template_id, None)


@lru_cache(maxsize=256)
def substituter(tags: tuple[str, ...]) -> Callable[[str, Mapping[str, str]], str]:
    """Replace every tag in a text by its value in one pass (compiled once per set of tags:
    the personalizations of one request usually share theirs)."""
    pattern = re.compile("|".join(re.escape(tag) for tag in sorted(tags, key=len, reverse=True)))

    def substitute(text: str, values: Mapping[str, str]) -> str:
        return pattern.sub(lambda found: values[found.group()], text)

    return substitute

"""Messages rendered per customer, in one request: the shared text once, each person's parts as substitutions.

SendGrid's Mail Send has one `content` per request, but each personalization may carry
its own `subject` and `substitutions` (tag -> text, replaced in the subject and content
before the message goes out). So a request of differently rendered messages of one
campaign sends the text they share once, with a tag where they differ, and gives each
personalization the parts that make its message whole again: what each recipient
receives is, byte for byte, the message the pipeline rendered for them.

Where the messages differ is found on the rendered text itself (no knowledge of the
template needed): line by line when every body has the same number of lines (the part
between the longest common prefix and suffix of the line), else once for the whole
body. Tags are `-sgp<n>-`. A message is `shareable` only if its own text never contains
`-sgp` and its whole body would fit in SendGrid's 10,000 bytes of substitutions, so a
request of shareable messages can always fall back to one tag per body, and no tag can
appear in what the recipient sees, whatever order the provider replaces tags in.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from os.path import commonprefix

TAG_MARKER = "-sgp"
# "The total collective size of your substitutions may not exceed 10,000 bytes per personalization."
MAX_SUBSTITUTIONS_BYTES = 10_000
# A body's substitution as one tag: the tag, its quotes, colon and comma, and the text's quotes.
_TAG_OVERHEAD_BYTES = 24


def tag(number: int) -> str:
    return f"{TAG_MARKER}{number}-"


def json_bytes(value: object) -> int:
    """Size as SendGrid counts a JSON value (UTF-8, no escaping of non-ASCII)."""
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))


def shareable(subject: str, bodies: Sequence[str]) -> bool:
    """Whether a rendered message can share a request with other renderings of its campaign."""
    if TAG_MARKER in subject or any(TAG_MARKER in body for body in bodies):
        return False
    # A JSON string takes at most 6 bytes per character (\uXXXX): under that bound no exact count.
    bound = 2 + sum(6 * len(body) + 2 + _TAG_OVERHEAD_BYTES for body in bodies)
    if bound <= MAX_SUBSTITUTIONS_BYTES:
        return True
    return 2 + sum(json_bytes(body) + _TAG_OVERHEAD_BYTES for body in bodies) <= MAX_SUBSTITUTIONS_BYTES


@dataclass(frozen=True)
class SharedContent:
    """One request's subject and content, and what each personalization adds to them.

    `subject` is the message-level subject when every message has the same one; else it is
    None and `subjects` holds each message's own. `bodies` are the shared bodies, one per
    content kind, in the order given; `substitutions` has one map per message (empty when
    its message is the shared text itself).
    """

    subject: str | None
    subjects: list[str] | None
    bodies: list[str]
    substitutions: list[dict[str, str]]


def share(subjects: Sequence[str], bodies_by_kind: Sequence[Sequence[str]]) -> SharedContent:
    """Split the messages of one request (all `shareable`): `bodies_by_kind[k][i]` is message i's
    body of kind k (HTML, plain text). Substituting each message's map into the shared bodies
    gives back its bodies exactly."""
    n = len(subjects)
    if any(len(bodies) != n for bodies in bodies_by_kind):
        raise ValueError("every content kind needs one body per message")
    same_subject = all(s == subjects[0] for s in subjects)
    # A message's parts are pieces of its bodies: under this bound every message's fit.
    longest = max((sum(len(bodies[i]) for bodies in bodies_by_kind) for i in range(n)), default=0)
    # Finest first; the last (each body one tag) always fits and places no text beside a tag.
    for how in ("lines", "ends", "whole"):
        shared, substitutions = _split_all(bodies_by_kind, how)
        tags = len(substitutions[0]) if substitutions else 0
        bound = 2 + 6 * (longest + tags * (len(tag(tags)) + 1))
        fits = bound <= MAX_SUBSTITUTIONS_BYTES or all(map(_fits, substitutions))
        if fits and _tags_only_where_placed(shared, substitutions):
            break
    return SharedContent(
        subject=subjects[0] if same_subject else None,
        subjects=None if same_subject else list(subjects),
        bodies=shared,
        substitutions=substitutions,
    )


def _split_all(bodies_by_kind: Sequence[Sequence[str]], how: str) -> tuple[list[str], list[dict[str, str]]]:
    """Shared bodies and per-message substitutions, tags numbered across kinds (SendGrid applies
    every substitution to every content part). `how`: "lines" (the differing middle of each line,
    when all bodies have as many lines), "ends" (the middle of the whole body), "whole" (all of it)."""
    n = len(bodies_by_kind[0]) if bodies_by_kind else 0
    substitutions: list[dict[str, str]] = [{} for _ in range(n)]
    shared: list[str] = []
    next_tag = 0
    for bodies in bodies_by_kind:
        lines = [body.splitlines(keepends=True) for body in bodies]
        if how == "lines" and all(len(each) == len(lines[0]) for each in lines):
            columns = [[each[j] for each in lines] for j in range(len(lines[0]))]
        else:
            columns = [list(bodies)]
        pieces: list[str] = []
        for column in columns:
            first = column[0]
            if all(text == first for text in column):
                pieces.append(first)
                continue
            start, end = _common_ends(column) if how != "whole" else (0, 0)
            name = tag(next_tag)
            next_tag += 1
            pieces.append(first[:start] + name + first[len(first) - end :])
            for parts, text in zip(substitutions, column, strict=True):
                parts[name] = text[start : len(text) - end]
        shared.append("".join(pieces))
    return shared, substitutions


def _fits(parts: dict[str, str]) -> bool:
    # At most 6 bytes per character in JSON (\uXXXX), plus quotes, colon and comma per pair.
    if 2 + sum(6 * (len(key) + len(value)) + 6 for key, value in parts.items()) <= MAX_SUBSTITUTIONS_BYTES:
        return True
    return json_bytes(parts) <= MAX_SUBSTITUTIONS_BYTES


def _common_ends(texts: Sequence[str]) -> tuple[int, int]:
    """Lengths of the longest common prefix and suffix, never overlapping in any text."""
    start = len(commonprefix(list(texts)))
    room = min(len(text) for text in texts) - start
    end = len(commonprefix([text[::-1] for text in texts])) if room > 0 else 0
    return start, min(end, room)


def _tags_only_where_placed(shared: Sequence[str], substitutions: Sequence[dict[str, str]]) -> bool:
    """The marker appears in the shared bodies only at the tags placed there: none is formed where
    shared text meets a tag (a tag followed by "sgp1-"), as the messages themselves never hold it."""
    placed = len(substitutions[0]) if substitutions else 0
    return sum(body.count(TAG_MARKER) for body in shared) == placed

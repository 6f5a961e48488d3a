"""Splitting per-customer renderings into shared text and substitutions gives every message back exactly."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from reengage.defs.delivery.personal_parts import (
    MAX_SUBSTITUTIONS_BYTES,
    TAG_MARKER,
    json_bytes,
    share,
    shareable,
)
from reengage_dev.sink.rendering import substituter

# Characters that make tags, line ends of every kind, and multi-byte text.
ALPHABET = "ab -sgp01\n\r\u2028é€"
texts = st.text(alphabet=ALPHABET, min_size=1, max_size=40)


def renderings(n_min: int = 1) -> st.SearchStrategy[list[tuple[str, list[str]]]]:
    """n messages of one campaign: a subject and 1 or 2 bodies each, often sharing lines."""
    lines = st.lists(texts, min_size=1, max_size=4)
    return st.integers(1, 2).flatmap(
        lambda kinds: st.lists(
            st.tuples(texts, st.lists(lines.map("\n".join), min_size=kinds, max_size=kinds)),
            min_size=n_min,
            max_size=8,
        )
    )


def sequentially(text: str, parts: dict[str, str], order: list[str]) -> str:
    for tag in order:
        text = text.replace(tag, parts[tag])
    return text


@settings(max_examples=300, deadline=None)
@given(renderings())
def test_substituting_each_messages_parts_into_the_shared_text_gives_back_exactly_its_message(
    messages: list[tuple[str, list[str]]],
) -> None:
    # Guards the byte-for-byte promise: whatever the rendered text (tag-like text, any line
    # ending, non-ASCII), each recipient receives exactly their message, within SendGrid's
    # 10,000 bytes of substitutions, and in whatever order the provider replaces the tags.
    messages = [(subject, bodies) for subject, bodies in messages if shareable(subject, bodies)]
    if not messages:
        return
    kinds = len(messages[0][1])
    messages = [(subject, bodies) for subject, bodies in messages if len(bodies) == kinds]
    shared = share([s for s, _ in messages], [[b[k] for _, b in messages] for k in range(kinds)])
    for i, (subject, bodies) in enumerate(messages):
        parts = shared.substitutions[i]
        assert json_bytes(parts) <= MAX_SUBSTITUTIONS_BYTES
        own_subject = shared.subject if shared.subjects is None else shared.subjects[i]
        assert own_subject == subject and TAG_MARKER not in own_subject
        one_pass = substituter(tuple(parts)) if parts else (lambda text, _: text)
        assert [one_pass(body, parts) for body in shared.bodies] == bodies
        for order in itertools.islice(itertools.permutations(parts), 6):
            assert [sequentially(body, parts, list(order)) for body in shared.bodies] == bodies


def test_lines_that_differ_only_in_their_middle_send_only_the_middle() -> None:
    # Guards the size of a request: the text messages share goes once, not 1,000 times.
    shared = share(
        ["Hi Ann", "Hi Bob"], [["<p>Hi Ann,</p>\n<p>3 orders</p>\n", "<p>Hi Bob,</p>\n<p>12 orders</p>\n"]]
    )
    assert shared.bodies == ["<p>Hi -sgp0-,</p>\n<p>-sgp1- orders</p>\n"]
    assert shared.substitutions == [{"-sgp0-": "Ann", "-sgp1-": "3"}, {"-sgp0-": "Bob", "-sgp1-": "12"}]
    assert (shared.subject, shared.subjects) == (None, ["Hi Ann", "Hi Bob"])


def test_a_body_too_big_for_substitutions_or_holding_the_tag_marker_is_not_shared() -> None:
    # Guards the fallback: such a message keeps its text as the request's content (its own request).
    assert shareable("Hi", ["x" * 9_000])
    assert not shareable("Hi", ["x" * 10_000])
    assert not shareable("Hi", ["a -sgp0- b"]) and not shareable("-sgp", ["body"])

"""Turn messages into SendGrid Mail Send bodies: grouping, personalizations, limits.

The bodies are built with the official client's `sendgrid.helpers.mail` classes,
so what we send is what the client library itself would produce. Grouping rules
come from the API: at most 1,000 personalizations per request, no address twice in
a request (a repeat goes to a later request), and message-level fields (template,
category) shared by every personalization of a request. Messages the pipeline
rendered per customer share a request too: each personalization carries its own
subject and, as substitutions, the parts of the body that are its own
(personal_parts.py), so a campaign's day goes in requests of 1,000 whatever its template.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sendgrid.helpers.mail import (
    Asm,
    BatchId,
    Category,
    Content,
    CustomArg,
    From,
    GroupId,
    Mail,
    MailSettings,
    Personalization,
    SandBoxMode,
    Subject,
    Substitution,
    TemplateId,
    To,
)

from reengage.channels import EMAIL
from reengage.defs.delivery import personal_parts
from reengage.send_ids import iso_date
from reengage.send_ids import send_id as compute_send_id

MAX_PERSONALIZATIONS = 1000
# "The total size of your email, including attachments, must be less than 30MB" (Mail Send
# limitations): one request's JSON body. Counted in decimal megabytes, the smaller reading.
MAX_REQUEST_BYTES = 30_000_000
# The most JSON one message's `dynamic_template_data` may take. SendGrid documents no limit of
# its own for it, only the request's; this one keeps a message with runaway block data (a
# template that is not ours to read) from ever being sent: the policy records it as
# `render_error:template_data_too_large`. Blocks within their limits take a few kilobytes.
MAX_TEMPLATE_DATA_BYTES = 100_000
MAX_CUSTOM_ARGS_BYTES = 10_000
MAX_SEND_AT_AHEAD_SECONDS = 72 * 3600


@dataclass(frozen=True)
class OutboundMessage:
    """One message to one customer for one campaign on one run date.

    Either `template_id` (a SendGrid dynamic template; `template_data` becomes
    `dynamic_template_data`) or `subject` plus `html_content`/`text_content`
    (pipeline-rendered, final: sent as rendered, sharing a request with the campaign's other
    renderings; a text that cannot share, because it holds a tag `-key-` of `template_data` or
    the marker `-sgp`, or is too big for SendGrid's substitutions, goes in a request of the
    same text with `template_data` as legacy substitutions).
    `send_at` is the unix time it should go out (None: as soon as possible).
    The repr leaves out the address and content so a message can be logged safely.
    """

    customer_id: str
    campaign_id: str
    variant: str
    run_date: str
    email: str = field(repr=False)
    template_id: str | None = None
    subject: str | None = field(default=None, repr=False)
    html_content: str | None = field(default=None, repr=False)
    text_content: str | None = field(default=None, repr=False)
    template_data: Mapping[str, Any] = field(default_factory=dict, repr=False)
    send_at: int | None = None
    to_name: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "run_date", iso_date(self.run_date))
        for name in ("customer_id", "campaign_id", "variant"):
            object.__setattr__(self, name, str(getattr(self, name)))
        # Not a field (so eq/repr ignore it): the hash is needed many times per send.
        object.__setattr__(
            self, "_send_id", compute_send_id(self.customer_id, self.campaign_id, self.run_date, self.channel)
        )
        if not self.template_id and not (self.subject and (self.html_content or self.text_content)):
            raise ValueError(
                f"message {self.send_id}: needs a template_id, or a subject and html/text content"
            )
        object.__setattr__(self, "_request_key", self._key())

    def _key(self) -> tuple[Any, ...]:
        if not self.template_id and self._shares_content():
            return (self.campaign_id, None, _RENDERED, bool(self.text_content), bool(self.html_content))
        return (self.campaign_id, self.template_id, self.subject, self.html_content, self.text_content)

    def _shares_content(self) -> bool:
        """Rendered text that needs no substitution of its own can go out beside other renderings."""
        texts = (self.subject or "", *(body for _, body in self.contents()))
        if any(f"-{key}-" in text for key in self.template_data for text in texts):
            return False
        return personal_parts.shareable(texts[0], texts[1:])

    def contents(self) -> tuple[tuple[str, str], ...]:
        """(MIME type, rendered body) pairs, in the order SendGrid wants them: text/plain, then text/html."""
        pairs = (("text/plain", self.text_content), ("text/html", self.html_content))
        return tuple((kind, body) for kind, body in pairs if body)

    @property
    def channel(self) -> str:
        """SendGrid sends email only: another channel's messages are its own sender's."""
        return EMAIL.name

    @property
    def send_id(self) -> str:
        """Derived, never supplied: the ledger key cannot disagree with the message."""
        return self._send_id  # type: ignore[attr-defined]

    def custom_args(self) -> dict[str, str]:
        """Carried back in every Event Webhook record, so responses join to the send."""
        return {
            "send_id": self.send_id,
            "customer_id": self.customer_id,
            "campaign_id": self.campaign_id,
            "variant": self.variant,
            "run_date": self.run_date,
        }

    def request_key(self) -> tuple[Any, ...]:
        """Messages with equal keys can share one request: the same template, or renderings of
        the same campaign with the same kinds of body (or, with their own substitution tags,
        the same text)."""
        return self._request_key  # type: ignore[attr-defined]

    def personalization_bytes(self) -> int:
        """At least the bytes this message's personalization takes in a request body (cached).

        Exact for what can grow (a dynamic template's data, a text's own substitutions); bounds
        for the rest: 6 bytes a character (`\\uXXXX`) for the address, name and subject, and
        SendGrid's own 10,000-byte limit for the parts of a shared rendering.
        """
        cached = getattr(self, "_personalization_bytes", None)
        if cached is None:
            text = 6 * (len(self.email) + len(self.to_name or "") + len(self.subject or ""))
            if self.template_id:
                own = _json_size(dict(self.template_data)) if self.template_data else 0
            elif self.request_key()[2] is _RENDERED:
                own = personal_parts.MAX_SUBSTITUTIONS_BYTES
            else:  # a text of its own: its data as substitution tags `-key-`
                own = _json_size({f"-{k}-": str(v) for k, v in self.template_data.items()})
            cached = _PERSONALIZATION_FIELDS_BYTES + text + _custom_args_bound(self) + own
            object.__setattr__(self, "_personalization_bytes", cached)
        return cached

    def request_content_bytes(self) -> int:
        """At least the bytes a request of this message's key takes besides its personalizations:
        the request's own fields, and its rendered bodies (a shared text is no longer than the
        longest of the texts it stands for, with its tags: counted twice to be safe)."""
        bodies = sum(_json_size(body) for _, body in self.contents()) if not self.template_id else 0
        return _REQUEST_FIELDS_BYTES + 6 * len(self.subject or "") + 2 * bodies


# Marks the request key of rendered messages that go out as shared text plus their own parts
# (a tuple, where other keys hold the subject: no subject can be taken for it).
_RENDERED = ("rendered per message",)


@dataclass(frozen=True)
class PayloadOptions:
    """Account-level settings that go into every request."""

    from_email: str
    from_name: str | None = None
    asm_group_id: int | None = None
    sandbox_mode: bool = False

    def __repr__(self) -> str:  # the sender address is configuration, but keep logs address-free
        return f"PayloadOptions(asm_group_id={self.asm_group_id}, sandbox_mode={self.sandbox_mode})"


# Room for a request's own fields (from, template id, category, ASM group, mail settings, batch id,
# the JSON around the personalizations) and for one personalization's keys, brackets and send_at.
_REQUEST_FIELDS_BYTES = 4_000
_PERSONALIZATION_FIELDS_BYTES = 200


def _json_size(value: Any) -> int:
    """Bytes of `value` as the client sends it (`json.dumps` defaults: ASCII, escaped)."""
    return len(json.dumps(value, default=str))


def _custom_args_bound(message: OutboundMessage) -> int:
    values = (message.send_id, message.customer_id, message.campaign_id, message.variant, message.run_date)
    return 2 + 6 * (_CUSTOM_ARGS_KEYS_LENGTH + sum(map(len, values))) + 6 * _CUSTOM_ARGS_COUNT


_JSON_SCALARS = frozenset({str, int, bool, type(None)})
_STR_TYPE = frozenset({str})
# custom_args() keys, for the size bound in local_problem (a test holds them in step).
_CUSTOM_ARGS_KEYS = ("send_id", "customer_id", "campaign_id", "variant", "run_date")
_CUSTOM_ARGS_KEYS_LENGTH = sum(map(len, _CUSTOM_ARGS_KEYS))
_CUSTOM_ARGS_COUNT = len(_CUSTOM_ARGS_KEYS)


def custom_args_bytes(message: OutboundMessage) -> int:
    return len(json.dumps(message.custom_args(), separators=(",", ":"), ensure_ascii=False).encode("utf-8"))


def local_problem(message: OutboundMessage) -> str | None:
    """A reason the provider would certainly refuse this message, checked before sending.

    Only limits the API documents and we can check exactly; address syntax is left to
    the provider (its verdict, with its reason, is what the ledger should record).
    """
    # A JSON string takes at most 6 bytes per character (\uXXXX) plus quotes, colon and comma:
    # under that bound the exact (and much slower) count is not needed.
    values_length = (
        len(message.send_id)
        + len(message.customer_id)
        + len(message.campaign_id)
        + len(message.variant)
        + len(message.run_date)
    )
    bound = 2 + 6 * (_CUSTOM_ARGS_KEYS_LENGTH + values_length) + 6 * _CUSTOM_ARGS_COUNT
    if bound >= MAX_CUSTOM_ARGS_BYTES and custom_args_bytes(message) >= MAX_CUSTOM_ARGS_BYTES:
        return "custom_args must be less than 10,000 bytes"
    if (
        message.template_id
        and message.personalization_bytes() + message.request_content_bytes() > MAX_REQUEST_BYTES
    ):
        return "the message alone is larger than a request may be (less than 30MB)"
    data = message.template_data
    if set(map(type, data)) <= _STR_TYPE and set(map(type, data.values())) <= _JSON_SCALARS:
        return None  # flat str/number/bool/None values: certainly serializable
    try:
        json.dumps(dict(data))
    except (TypeError, ValueError):
        return "template_data is not JSON-serializable"
    return None


def group_messages(
    messages: Iterable[OutboundMessage],
    max_per_request: int = MAX_PERSONALIZATIONS,
    max_request_bytes: int = MAX_REQUEST_BYTES,
) -> list[list[OutboundMessage]]:
    """Split messages into requests: same request key, <= max_per_request, no address twice,
    and a body under `max_request_bytes` (SendGrid's 30 MB; dynamic template data can be big).

    First fit: a message joins the earliest open request of its key that has room (in
    messages and bytes) and does not yet hold its address (compared case-insensitively, as
    SendGrid does).
    Order within a request follows input order, and requests come in the order they
    were opened, so grouping is deterministic.
    """
    grouper = RequestGrouper(max_per_request, max_request_bytes=max_request_bytes)
    numbered = [*grouper.add_numbered(messages), *grouper.flush_numbered()]
    return [members for _, members in sorted(numbered, key=lambda pair: pair[0])]


class RequestGrouper:
    """`group_messages` for a stream: each request is handed out as soon as it is full.

    `max_held` bounds memory: when more messages than that wait in open (part-full)
    requests, the oldest open request is handed out part-full. Without it, many
    distinct request keys (say, texts that each carry their own substitution tags) would hold the day.
    """

    def __init__(
        self,
        max_per_request: int = MAX_PERSONALIZATIONS,
        max_held: int | None = None,
        max_request_bytes: int = MAX_REQUEST_BYTES,
    ) -> None:
        if not 1 <= max_per_request <= MAX_PERSONALIZATIONS:
            raise ValueError(f"max_per_request must be between 1 and {MAX_PERSONALIZATIONS}")
        if not 0 < max_request_bytes <= MAX_REQUEST_BYTES:
            raise ValueError(f"max_request_bytes must be between 1 and {MAX_REQUEST_BYTES}")
        self.max_per_request = max_per_request
        self.max_held = max_held
        self.max_request_bytes = max_request_bytes
        # Open requests by key, earliest first; and all of them by opening number (oldest first).
        self._open: dict[tuple[Any, ...], list[_OpenRequest]] = {}
        self._by_number: dict[int, _OpenRequest] = {}
        self._opened = 0
        self._held = 0

    def add(self, messages: Iterable[OutboundMessage]) -> list[list[OutboundMessage]]:
        """Take messages; return the requests that are ready to send."""
        return [members for _, members in self.add_numbered(messages)]

    def flush(self) -> list[list[OutboundMessage]]:
        """Hand out every open request (the end of the stream), oldest first."""
        return [members for _, members in self.flush_numbered()]

    def add_numbered(self, messages: Iterable[OutboundMessage]) -> list[tuple[int, list[OutboundMessage]]]:
        ready: list[tuple[int, list[OutboundMessage]]] = []
        limit = self.max_per_request
        for message in messages:
            address = message.email.strip().lower()
            key = message.request_key()
            size = message.personalization_bytes()
            candidates = self._open.setdefault(key, [])
            for request in candidates:
                if address not in request.addresses and request.size + size <= self.max_request_bytes:
                    break
            else:
                request = _OpenRequest(self._opened, key, [], set(), message.request_content_bytes())
                self._opened += 1
                candidates.append(request)
                self._by_number[request.number] = request
            request.members.append(message)
            request.addresses.add(address)
            request.size += size
            self._held += 1
            if len(request.members) >= limit:
                ready.append(self._close(request))
            if self.max_held is not None and self._held > self.max_held:
                ready.append(self._close(self._by_number[next(iter(self._by_number))]))
        return ready

    def flush_numbered(self) -> list[tuple[int, list[OutboundMessage]]]:
        ready = [(r.number, r.members) for r in self._by_number.values()]
        self._open, self._by_number, self._held = {}, {}, 0
        return ready

    def _close(self, request: _OpenRequest) -> tuple[int, list[OutboundMessage]]:
        candidates = self._open[request.key]
        candidates.remove(request)
        if not candidates:  # forget the key: a day of distinct keys must not pile up here
            del self._open[request.key]
        del self._by_number[request.number]
        self._held -= len(request.members)
        return request.number, request.members


@dataclass
class _OpenRequest:
    number: int
    key: tuple[Any, ...]
    members: list[OutboundMessage]
    addresses: set[str]
    size: int  # bytes the body will take at most: its content and every personalization so far


def _address(kind: type[To] | type[From], email: str, name: str | None) -> To | From:
    """Set the address verbatim: the helpers' one-argument form parses "Name <addr>" and
    turns anything without an '@' into a name, which would hide a bad address from the
    provider's validation (and put it in the name field)."""
    address = kind()
    address.email = email
    if name:
        address.name = name
    return address


def build_mail(
    messages: Sequence[OutboundMessage],
    options: PayloadOptions,
    *,
    batch_id: str | None = None,
    send_at: Mapping[str, int | None] | None = None,
) -> dict[str, Any]:
    """The JSON body of one `POST /v3/mail/send` for a group from `group_messages`.

    `send_at` maps send_id to the time to put on that personalization (overriding
    the message's own), which is how the sender enforces a cancellable lead time.

    The message-level fields are built by the official helpers (`_message_level`, which also
    runs their checks, e.g. no API key in the content); the personalizations, up to 1,000 per
    request and the sender's hot path, are built directly as the same dicts the helpers
    produce (`build_mail_with_helpers` is the reference; a test holds the two equal).
    """
    _check_one_request(messages)
    content = _request_content(messages)
    body = _message_level(messages[0], content, options, batch_id).get()
    when_by_id = send_at or {}
    body["personalizations"] = [
        _personalization(m, i, content, when_by_id.get(m.send_id, m.send_at)) for i, m in enumerate(messages)
    ]
    return body


def _check_one_request(messages: Sequence[OutboundMessage]) -> None:
    if not messages:
        raise ValueError("build_mail needs at least one message")
    key = messages[0].request_key()
    if any(m.request_key() != key for m in messages):
        raise ValueError("all messages of one request must share campaign, template and kind of content")


def _request_content(messages: Sequence[OutboundMessage]) -> personal_parts.SharedContent | None:
    """Subject and bodies of a request of rendered messages, and what each personalization adds
    (None for a dynamic template: SendGrid renders it from `dynamic_template_data`)."""
    first = messages[0]
    if first.template_id:
        return None
    if first.request_key()[2] is _RENDERED:
        contents = [m.contents() for m in messages]
        kinds = range(len(contents[0]))
        return personal_parts.share(
            [m.subject or "" for m in messages], [[each[k][1] for each in contents] for k in kinds]
        )
    # One text for the whole request, completed by each message's own substitution tags.
    return personal_parts.SharedContent(
        subject=first.subject,
        subjects=None,
        bodies=[body for _, body in first.contents()],
        substitutions=[{f"-{k}-": str(v) for k, v in m.template_data.items()} for m in messages],
    )


def _message_level(
    first: OutboundMessage,
    content: personal_parts.SharedContent | None,
    options: PayloadOptions,
    batch_id: str | None,
) -> Mail:
    """The request's own fields, through the official helpers (and their checks)."""
    mail = Mail()
    mail.from_email = _address(From, options.from_email, options.from_name)
    if content is None:
        mail.template_id = TemplateId(first.template_id)
    else:
        if content.subject is not None:
            mail.subject = Subject(content.subject)
        types = [kind for kind, _ in first.contents()]
        for kind, value in zip(types, content.bodies, strict=True):
            mail.add_content(Content(kind, value))
    mail.add_category(Category(first.campaign_id))
    if options.asm_group_id is not None:
        mail.asm = Asm(GroupId(options.asm_group_id))
    if batch_id is not None:
        mail.batch_id = BatchId(batch_id)
    settings = MailSettings()
    settings.sandbox_mode = SandBoxMode(options.sandbox_mode)
    mail.mail_settings = settings
    return mail


def _personalization(
    message: OutboundMessage, index: int, content: personal_parts.SharedContent | None, when: int | None
) -> dict[str, Any]:
    """What `Personalization().get()` returns for one message, without the helper objects."""
    to: dict[str, str] = (
        {"name": message.to_name, "email": message.email} if message.to_name else {"email": message.email}
    )
    personalization: dict[str, Any] = {"to": [to]}
    if when:
        personalization["send_at"] = int(when)
    if content is None:
        if message.template_data:
            personalization["dynamic_template_data"] = dict(message.template_data)
    else:
        if content.subjects is not None:
            personalization["subject"] = content.subjects[index]
        if content.substitutions[index]:
            personalization["substitutions"] = content.substitutions[index]
    personalization["custom_args"] = message.custom_args()
    return personalization


def build_mail_with_helpers(
    messages: Sequence[OutboundMessage],
    options: PayloadOptions,
    *,
    batch_id: str | None = None,
    send_at: Mapping[str, int | None] | None = None,
) -> dict[str, Any]:
    """`build_mail` entirely through the `sendgrid.helpers.mail` classes (the reference)."""
    _check_one_request(messages)
    content = _request_content(messages)
    mail = _message_level(messages[0], content, options, batch_id)
    for index, message in enumerate(messages):
        personalization = Personalization()
        personalization.add_to(_address(To, message.email, message.to_name))
        if content is None:
            if message.template_data:
                personalization.dynamic_template_data = dict(message.template_data)
        else:
            if content.subjects is not None:
                personalization.subject = content.subjects[index]
            for key, value in content.substitutions[index].items():
                personalization.add_substitution(Substitution(key, value))
        for key, value in message.custom_args().items():
            personalization.add_custom_arg(CustomArg(key, value))
        when = (send_at or {}).get(message.send_id, message.send_at)
        if when is not None:
            personalization.send_at = int(when)
        mail.add_personalization(personalization, index=index)
    return mail.get()

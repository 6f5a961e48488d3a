"""The recipients' side of the pipeline's texts: what Twilio accepted, and how each recipient answers.

``read_texts`` takes a run date's texts from the local Twilio sink's store (what went to Twilio:
number, sender, scheduled time, and the status callback URL whose query carries the send id)
and finds each one's campaign and variant in the send ledger by that send id (Twilio keeps
neither). ``draw_text_reactions`` answers each text from the recipient's hidden truth, as
``responses.draw_reactions`` answers mail: its delivery (a number that never takes a text is
undelivered with a permanent error every time; other texts are undelivered or fail with the
specification's small shares), a STOP reply (the person's STOP rate times the campaign cell's
``unsubscribe_factor``: a STOP is a text's unsubscribe) and the change in behaviour (the cell's
effect, its ``extra_purchases`` times ``sms.effect_factor``, through ``effects``, for a delivered
text only). ``text_callbacks`` turns the draws into the records the Twilio sink exports
(``twilio_sink.callbacks``): queued at the scheduled time, sent a second later, the final status
2 to 30 seconds after that, and a STOP reply 1 minute to 6 hours after delivery.

Every draw is keyed by the send id on streams of its own, so a world without texts draws exactly
what it drew before, and one text never moves another's answers. The world names each text and
reply itself (``SM`` and 32 hex digits from the seed and the send id): the sink's SIDs are
random, and the same decisions must give byte-identical exports. The ``scheduled`` callback a
text gets when it is created is left out: its time is the request's, which the wall clock decides.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from urllib.parse import parse_qsl, urlsplit

import numpy as np

from reengage.defs.delivery.ledger import SendLedger
from reengage_dev.demo.clock import DAY_MS, MINUTE_MS
from reengage_dev.demo.keyed import KeyedDraws
from reengage_dev.demo.population import Population
from reengage_dev.demo.responses import SEND_ID_WIDTH, Accepted, effects_of
from reengage_dev.demo.spec import WorldSpec
from reengage_dev.demo.truth import SentEffect
from reengage_dev.twilio_sink.callbacks import status_record, stop_record
from reengage_dev.twilio_sink.outcomes import FAILED_ERRORS, SENT_AFTER_SECONDS
from reengage_dev.twilio_sink.store import StoredText, TwilioSinkStore

PHONE_PREFIX = "+1555"  # population.phone_numbers: the prefix and seven digits of the customer number
UNREACHABLE_ERRORS = (30005, 30006)  # unknown number; landline or unreachable carrier (permanent)
OUT_OF_REACH_ERROR = 30003  # the handset is off or out of coverage (temporary)
FINAL_AFTER_MS = (2_000, 30_000)  # sent -> final status, uniform
STOP_AFTER_MS = (MINUTE_MS, 6 * 60 * MINUTE_MS)  # delivered -> the STOP reply, uniform
_HEX = np.frombuffer(b"0123456789abcdef", np.uint8)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _logit(p: np.ndarray | float) -> np.ndarray:
    p = np.asarray(p, np.float64)
    return np.log(p / (1.0 - p))


@dataclass(frozen=True)
class SmsTraits:
    """Each customer's number as texts find it: whether it takes texts at all, and how readily they
    reply STOP (following their readiness to unsubscribe from mail)."""

    unreachable: np.ndarray  # bool: the number never takes a text
    unreachable_error: np.ndarray  # int: the permanent error such a number's texts carry
    stop_rate: np.ndarray  # P(STOP) per delivered text, before the campaign's unsubscribe_factor


def build_sms_traits(rng: np.random.Generator, pop: Population, spec: WorldSpec) -> SmsTraits:
    """Draw the traits from `rng`, a stream of their own (no other draw of the world moves)."""
    sms, email = spec.sms, spec.email
    unreachable = rng.random(pop.n) < sms.unreachable_number_share
    error = np.array(UNREACHABLE_ERRORS)[rng.integers(0, len(UNREACHABLE_ERRORS), pop.n)]
    readiness = _logit(pop.unsubscribe_rate) - _logit(email.median_unsubscribe_rate)
    stop_rate = _sigmoid(_logit(sms.median_stop_rate) + readiness + rng.normal(0, 0.3, pop.n))
    return SmsTraits(unreachable=unreachable, unreachable_error=error, stop_rate=stop_rate)


@dataclass(frozen=True)
class Texts:
    """One run date's texts as Twilio holds them, with what the ledger says they are."""

    accepted: Accepted  # customer, scheduled time, send id, campaign, variant
    stored: list[StoredText]  # the sink's record of each: numbers, account, callback URL

    def __len__(self) -> int:
        return len(self.stored)

    def take(self, index: np.ndarray) -> Texts:
        return Texts(accepted=self.accepted.take(index), stored=[self.stored[i] for i in index])


def _send_id(text: StoredText) -> str:
    return dict(parse_qsl(urlsplit(text.status_callback or "").query)).get("send_id", "")


def customer_of_number(number: str, pop: Population) -> int:
    """The customer a demo number belongs to (``+1555`` and seven digits of the customer number)."""
    digits = number.removeprefix(PHONE_PREFIX)
    if not (number.startswith(PHONE_PREFIX) and digits.isdigit() and 0 < int(digits) <= pop.n):
        raise ValueError(
            "the Twilio sink's store holds a text to a number that is no customer's in this world "
            "(a store left from another world? start the demo from an empty home)"
        )
    return int(digits) - 1


def read_texts(store: TwilioSinkStore, ledger: SendLedger, run_date: date, pop: Population) -> Texts:
    """The texts Twilio took for `run_date` (a canceled one never goes out), in the order it took them."""
    stored = [t for t in store.texts() if t.status != "canceled"]
    send_ids = [_send_id(t) for t in stored]
    if any(len(s) != SEND_ID_WIDTH or not s.isascii() for s in send_ids):
        raise ValueError(
            "the Twilio sink holds texts whose status callback URL carries no send_id: the world "
            "cannot tell their campaign (set REENGAGE_TWILIO_STATUS_CALLBACK_URL, as the demo does)"
        )
    rows = {r.send_id: r for r in ledger.rows(send_ids=send_ids)}
    day = run_date.isoformat()
    keep = [i for i, s in enumerate(send_ids) if s in rows and rows[s].run_date == day]
    stored = [stored[i] for i in keep]
    ids = [send_ids[i] for i in keep]
    codes = np.frombuffer("".join(ids).encode("ascii"), np.uint8).reshape(len(ids), SEND_ID_WIDTH)
    accepted = Accepted(
        cust=np.array([customer_of_number(t.to, pop) for t in stored], np.int32),
        send_ms=np.array(
            [round((t.send_at if t.send_at is not None else t.date_created) * 1000) for t in stored], np.int64
        ),
        send_id=codes,
        campaign=[rows[s].campaign_id for s in ids],
        variant=[rows[s].variant or "" for s in ids],
    )
    return Texts(accepted=accepted, stored=stored)


@dataclass(frozen=True)
class TextReactions:
    """Everything drawn for one day's texts, for the exports and the truth."""

    status: np.ndarray  # object: delivered, undelivered or failed
    error_code: np.ndarray  # int, 0 for a delivered text
    final_ms: np.ndarray
    stopped: np.ndarray  # bool: the recipient replied STOP
    stop_ms: np.ndarray
    message_sid: list[str]
    reply_sid: list[str]
    effect: dict[str, np.ndarray]
    sent: SentEffect

    @property
    def delivered(self) -> np.ndarray:
        return self.status == "delivered"


def _sids(draws: KeyedDraws, m: int) -> list[str]:
    """Twilio-shaped SIDs: SM and 32 hex digits."""
    digits = _HEX[draws.integers(0, 16, (m, 32))]
    return ["SM" + row.tobytes().decode("ascii") for row in digits]


def draw_text_reactions(
    seed: int, spec: WorldSpec, pop: Population, traits: SmsTraits, texts: Texts, effect_from_ms: int
) -> TextReactions:
    """Delivery, STOP replies and behaviour changes of `texts` (see the module docstring).

    `effect_from_ms`: the first instant whose exports are not written yet.
    """
    accepted = texts.accepted
    m, cust, sms = len(accepted), accepted.cust, spec.sms
    effect = effects_of(spec, accepted, pop.kind[cust])
    draws = KeyedDraws(seed, "texts", accepted.key())
    u = draws.random(m)
    final_ms = accepted.send_ms + SENT_AFTER_SECONDS * 1000 + draws.integers(*FINAL_AFTER_MS, m)
    stop_ms = final_ms + draws.integers(*STOP_AFTER_MS, m)
    stop_u = draws.random(m)
    unreachable = traits.unreachable[cust]
    failed = ~unreachable & (u < sms.failed_share)
    out_of_reach = ~unreachable & ~failed & (u < sms.failed_share + sms.undelivered_share)
    delivered = ~(unreachable | failed | out_of_reach)
    status = np.where(delivered, "delivered", np.where(failed, "failed", "undelivered")).astype(object)
    error_code = np.select(
        [unreachable, failed, out_of_reach],
        [traits.unreachable_error[cust], FAILED_ERRORS[0], OUT_OF_REACH_ERROR],
        0,
    )
    stopped = delivered & (stop_u < np.minimum(traits.stop_rate[cust] * effect["unsubscribe_factor"], 1.0))
    ids = KeyedDraws(seed, "text_ids", accepted.key())
    sent = SentEffect(
        start_ms=np.maximum(accepted.send_ms, effect_from_ms),
        end_ms=accepted.send_ms + int(spec.effects.duration_days * DAY_MS),
        extra=effect["extra_purchases"] * sms.effect_factor * pop.responsiveness[cust],
        factor=effect["activity_factor"],
        delivered=delivered,
    )
    return TextReactions(
        status=status,
        error_code=error_code,
        final_ms=final_ms,
        stopped=stopped,
        stop_ms=stop_ms,
        message_sid=_sids(ids, m),
        reply_sid=_sids(ids, m),
        effect=effect,
        sent=sent,
    )


def text_callbacks(texts: Texts, reactions: TextReactions) -> list[tuple[int, dict]]:
    """(time in ms, record) of every status callback and STOP reply the texts bring, as the sink
    exports them (`twilio_sink.callbacks`)."""
    out: list[tuple[int, dict]] = []
    for i, text in enumerate(texts.stored):
        sid, send_ms = reactions.message_sid[i], int(texts.accepted.send_ms[i])
        code = int(reactions.error_code[i]) or None
        steps: Sequence[tuple[str, int, int | None]] = (
            ("queued", send_ms, None),
            ("sent", send_ms + SENT_AFTER_SECONDS * 1000, None),
            (str(reactions.status[i]), int(reactions.final_ms[i]), code),
        )
        for status, at_ms, error_code in steps:
            record = status_record(
                sid=sid,
                status=status,
                at=at_ms / 1000,
                account_sid=text.account_sid,
                from_number=text.from_,
                to_number=text.to,
                messaging_service_sid=text.messaging_service_sid,
                status_callback=text.status_callback,
                error_code=error_code,
            )
            out.append((at_ms, record))
        if reactions.stopped[i]:
            at_ms = int(reactions.stop_ms[i])
            reply = stop_record(
                sid=reactions.reply_sid[i],
                at=at_ms / 1000,
                account_sid=text.account_sid,
                from_number=text.to,
                to_number=text.from_,
                messaging_service_sid=text.messaging_service_sid,
            )
            out.append((at_ms, reply))
    return out

"""The demo world, one day at a time: landing exports, answers to the pipeline's mail, the truth.

``World`` streams day by day. ``write_day(k)`` draws that UTC day's sessions
and events (``activity``), takes out the sessions messages put off and adds
the visits they brought (``effects``), sends the legacy newsletter on
Tuesdays before the pipeline took over (``newsletter``), applies the day's
CRM changes (``crm``), sprinkles a few documented bad rows (``dirty``) and
writes one file per source (``exports``). ``respond(store, k)``, called after
the daily run of day k, reads what the mail provider accepted for k and
draws each recipient's reactions (``responses``): their webhook events go
into the exports of the following days, from k + 1 on, and so do the
changes in behaviour. Given the Twilio sink's store and the send ledger, it
answers the day's texts the same way (``texts``): status callbacks and STOP
replies into the sms_events exports of k + 1 and later. Only the customer traits, the CRM state and the
pending events stay in memory, so a million customers fit in a few GiB.

``generate_world`` writes a whole history that nobody mails (the tests and
benchmarks use it); the demo command (``loop``) writes the history, then
alternates ``write_day``, the real daily job and ``respond``.

Determinism: every draw comes from a numpy Generator seeded by
(seed, stream, day) or, for everything a message may change, from keyed
draws (``keyed``), so adding a message to one user changes nothing for
anyone else. No wall-clock value is written (``end_date`` must be given for
reproducible output; it defaults to today in UTC), rows are written in a
fixed order and the writers are deterministic, so the same arguments and the
same accepted messages give byte-identical files.

What is where: the world specification in ``spec`` (``worlds/default.yaml``),
traits and lifecycles in ``population``, session shapes, co-purchases and identity
stitching in ``activity``, the ground truth in ``truth``, the dirty row kinds
in ``dirty``, file contracts in ``exports``.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from reengage_dev.demo import dirty, exports
from reengage_dev.demo.activity import ActivitySimulator, EventBatch
from reengage_dev.demo.catalog import PURCHASE, Shelf, build_catalog
from reengage_dev.demo.clock import DAY_MS, Window
from reengage_dev.demo.crm import CrmState
from reengage_dev.demo.effects import SMS_CHANNEL, BehaviourChanges
from reengage_dev.demo.keyed import codes_key
from reengage_dev.demo.newsletter import CAMPAIGN_ID, VARIANTS, EmailBatch, Newsletter
from reengage_dev.demo.population import anonymous_ids, build_population, build_visitors
from reengage_dev.demo.responses import customer_index, draw_reactions, read_accepted
from reengage_dev.demo.spec import KINDS, Effect, WorldSpec, load_spec
from reengage_dev.demo.strings import from_codes
from reengage_dev.demo.texts import Texts, build_sms_traits, draw_text_reactions, read_texts, text_callbacks
from reengage_dev.demo.truth import SentEffect, conversion_probabilities, truth_table
from reengage_dev.sink.store import SinkStore
from reengage_dev.twilio_sink.callbacks import SOURCE as SMS_EVENTS
from reengage_dev.twilio_sink.callbacks import in_export_order, write_sms_events
from reengage_dev.twilio_sink.store import TwilioSinkStore

if TYPE_CHECKING:
    from reengage.defs.delivery.ledger import SendLedger

_STREAMS = {
    "population": 1,
    "visitors": 2,
    "catalog": 3,
    "anonymous_ids": 4,
    "traits": 5,
    "contacts": 6,
    "activity": 10,
    "newsletter": 11,
    "crm": 12,
    "sms_traits": 13,
    "products": 14,
    "complements": 15,
    "complement_sessions": 16,
}


def _rng(seed: int, stream: str, k: int = 0) -> np.random.Generator:
    """An independent, reproducible stream per purpose and day, so changing one knob moves nothing else."""
    return np.random.default_rng(np.random.SeedSequence([seed, _STREAMS[stream], k]))


@dataclass(frozen=True)
class WorldSummary:
    """What was written: row and file counts per source, bad rows per kind, dates and paths."""

    home: Path
    landing_dir: Path
    truth_path: Path
    start_date: date
    end_date: date
    customers: int
    anonymous_visitors: int
    formats: dict[str, str]
    rows: dict[str, int]
    files: dict[str, int]
    dirty_rows: dict[str, dict[str, int]]
    newsletter_messages: int = 0
    spec: str = ""
    messages_answered: int = 0

    def to_dict(self) -> dict:
        out = asdict(self)
        for key in ("home", "landing_dir", "truth_path"):
            out[key] = str(out[key])
        out["start_date"] = self.start_date.isoformat()
        out["end_date"] = self.end_date.isoformat()
        return out

    def describe(self) -> str:
        lines = [
            f"demo world {self.start_date} .. {self.end_date}: {self.customers:,} customers, "
            f"{self.anonymous_visitors:,} anonymous-only visitors",
            f"landing: {self.landing_dir}",
            f"truth:   {self.truth_path}",
            f"world specification: {self.spec}",
        ]
        for source in exports.SOURCES:
            lines.append(
                f"  {source:<13} {self.rows[source]:>12,} rows in {self.files[source]} "
                f"{self.formats[source]} files"
            )
        lines.append(f"  legacy newsletter messages: {self.newsletter_messages:,}")
        if self.messages_answered:
            lines.append(f"  pipeline messages answered: {self.messages_answered:,}")
        for source, kinds in self.dirty_rows.items():
            shown = ", ".join(f"{kind} {count:,}" for kind, count in kinds.items())
            lines.append(f"  dirty {source}: {shown}")
        return "\n".join(lines)


@dataclass(frozen=True)
class DayAnswers:
    """What the world drew for one run date's accepted messages."""

    day: date
    messages: int
    delivered: int
    bounced: int
    opened: int
    clicked: int
    unsubscribed: int
    spam_reported: int
    extra_visits: int
    texts: int = 0
    texts_delivered: int = 0
    stop_replies: int = 0

    def describe(self) -> str:
        texts = (
            f"; {self.texts:,} texts: {self.texts_delivered:,} delivered, {self.stop_replies:,} STOP"
            if self.texts
            else ""
        )
        return (
            f"{self.delivered:,} delivered, {self.opened:,} opened, "
            f"{self.clicked:,} clicked, {self.unsubscribed:,} unsubscribed, "
            f"{self.extra_visits:,} extra visits{texts}"
        )


@dataclass
class _Sent:
    """Every message the world answered, kept sorted by key for the truth of an assignment."""

    key: np.ndarray = field(default_factory=lambda: np.zeros(0, np.uint64))
    cust: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    start_ms: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    end_ms: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    extra: np.ndarray = field(default_factory=lambda: np.zeros(0))
    factor: np.ndarray = field(default_factory=lambda: np.zeros(0))
    delivered: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))

    def add(self, key: np.ndarray, cust: np.ndarray, sent: SentEffect) -> None:
        parts = {
            "key": key,
            "cust": cust,
            "start_ms": sent.start_ms,
            "end_ms": sent.end_ms,
            "extra": sent.extra,
            "factor": sent.factor,
            "delivered": sent.delivered,
        }
        merged = {name: np.concatenate([getattr(self, name), value]) for name, value in parts.items()}
        order = np.argsort(merged["key"], kind="stable")
        for name, value in merged.items():
            setattr(self, name, value[order])

    def find(self, key: np.ndarray) -> np.ndarray:
        """Position of each key, or -1."""
        if not len(self.key):
            return np.full(len(key), -1)
        at = np.minimum(np.searchsorted(self.key, key), len(self.key) - 1)
        return np.where(self.key[at] == key, at, -1)

    def effect(self, at: np.ndarray) -> SentEffect:
        """The effects of the messages at positions `at`; -1 (not found) does nothing."""

        def pick(values: np.ndarray, neutral: float | bool) -> np.ndarray:
            return np.append(values, neutral)[at]  # -1 picks the appended neutral value

        return SentEffect(
            start_ms=pick(self.start_ms, 0),
            end_ms=pick(self.end_ms, 0),
            extra=pick(self.extra, 0.0),
            factor=pick(self.factor, 1.0),
            delivered=pick(self.delivered, False),
        )


def _formats(formats: dict[str, str] | None) -> dict[str, str]:
    chosen = dict(exports.DEFAULT_FORMATS)
    for source, fmt in (formats or {}).items():
        if source not in exports.SOURCES:
            raise ValueError(f"unknown source {source!r}; expected one of {exports.SOURCES}")
        if fmt not in exports.FORMATS:
            raise ValueError(f"unknown format {fmt!r} for {source}; expected one of {exports.FORMATS}")
        chosen[source] = fmt
    return chosen


def _foreign_landing_files(landing: Path, fmt: dict[str, str], window: Window) -> list[Path]:
    """Landing files of the demo's naming pattern that this world would not overwrite (its answers
    to texts are merged into the day's file, so every sms_events file there is another world's)."""
    texts = landing / SMS_EVENTS
    found = sorted(texts.glob(f"{SMS_EVENTS}_*.jsonl")) if texts.is_dir() else []
    for source in exports.SOURCES:
        ours = {
            exports.landing_path(landing, source, window.day(k).isoformat(), fmt[source])
            for k in range(window.days)
        }
        pattern = re.compile(rf"{source}_\d{{4}}-\d\d-\d\d\.({'|'.join(exports.FORMATS)})")
        folder = landing / source
        if folder.is_dir():
            found += sorted(p for p in folder.iterdir() if pattern.fullmatch(p.name) and p not in ours)
    return found


def _purchases(batch: EventBatch) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    bought = np.flatnonzero((batch.name == PURCHASE) & batch.identified & (batch.cust >= 0))
    return batch.cust[bought], batch.value[bought], batch.ts[bought]


def _write_parquet(table: pa.Table, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    pq.write_table(table, tmp, compression="zstd")
    tmp.replace(path)


class World:
    """A demo world that writes its exports day by day and answers the mail sent to its people.

    The window is `days` days ending `end_date`; the last `sending_days` of them belong to the
    pipeline (the legacy newsletter stopped before them). Files of the same names are overwritten;
    landing files of another world (other days or formats) would silently mix with this one, so
    they raise ``FileExistsError`` unless ``replace=True``, which deletes them first.
    """

    def __init__(
        self,
        home: Path,
        *,
        customers: int = 20_000,
        days: int = 60,
        end_date: date | None = None,
        seed: int = 7,
        dirty_share: float = 0.002,
        formats: dict[str, str] | None = None,
        replace: bool = False,
        spec: WorldSpec | None = None,
        sending_days: int = 0,
    ) -> None:
        if customers < 1:
            raise ValueError("customers must be at least 1")
        if days < 1:
            raise ValueError("days must be at least 1")
        if not 0 <= sending_days < days:
            raise ValueError("sending_days must be at least 0 and leave at least one day of history")
        if not 0.0 <= dirty_share <= 0.5:
            raise ValueError("dirty_share must be between 0 and 0.5")
        self.spec = spec or load_spec()
        self.fmt = _formats(formats)
        self.home = Path(home)
        self.landing = self.home / "landing"
        self.truth_dir = self.home / "truth"
        self.window = Window(end=end_date or datetime.now(UTC).date(), days=days)
        self.seed = seed
        self.dirty_share = dirty_share
        self.first_sending_day = days - sending_days
        foreign = _foreign_landing_files(self.landing, self.fmt, self.window)
        if foreign and not replace:
            raise FileExistsError(
                f"{self.landing} already holds {len(foreign)} landing files of another world "
                f"(e.g. {foreign[0].name}); pass replace=True (--replace) to delete them first"
            )
        for path in foreign:
            path.unlink()

        window, spec = self.window, self.spec
        self.pop = build_population(
            _rng(seed, "population"), _rng(seed, "traits"), customers, window, spec, _rng(seed, "contacts")
        )
        self.visitors = build_visitors(_rng(seed, "visitors"), customers, window, spec)
        self.catalog = build_catalog(_rng(seed, "catalog"), _rng(seed, "complements"))
        self.shelf = Shelf(self.catalog, window)
        self.anon_ids = anonymous_ids(_rng(seed, "anonymous_ids"), self.pop, self.visitors)
        self.activity = ActivitySimulator(
            self.pop, self.visitors, window, self.catalog, spec.baseline.complement_share
        )
        self.newsletter = Newsletter(self.pop, window, spec.email.deferred_share, self.first_sending_day - 1)
        self.crm = CrmState(self.pop, window)
        self.changes = BehaviourChanges(seed, self.pop, window, self.catalog)
        self.campaign_mail: dict[int, list[EmailBatch]] = defaultdict(list)
        self.sms_traits = build_sms_traits(_rng(seed, "sms_traits"), self.pop, spec)
        self.sms_events: dict[int, list[dict]] = defaultdict(list)  # by the day whose export has them
        self.texting = False  # once a text was answered, every day has an sms_events export
        self.campaign_names = [CAMPAIGN_ID]
        self.variant_names = list(VARIANTS)
        self.sent = _Sent()
        self.effect_pairs: set[tuple[str, str]] = set()
        self.next_day = 0
        self.rows = dict.fromkeys(exports.SOURCES, 0)
        self.dirty_rows = {source: dict.fromkeys(kinds, 0) for source, kinds in dirty.KINDS.items()}
        self.answered = 0

    @property
    def truth_path(self) -> Path:
        return self.truth_dir / "user_truth.parquet"

    def move_to(self, home: Path) -> None:
        """Write into `home` from now on: a copy of this world's home, taken between two days."""
        self.home = Path(home)
        self.landing = self.home / "landing"
        self.truth_dir = self.home / "truth"

    def day(self, k: int) -> date:
        return self.window.day(k)

    # -- exports ---------------------------------------------------------------------------

    def write_day(self, k: int) -> date:
        """Write day k's landing files (days go in order: each one carries state into the next)."""
        if k != self.next_day:
            raise ValueError(f"day {k} cannot be written next; day {self.next_day} comes first")
        seed, share, day_ms = self.seed, self.dirty_share, self.window.day_ms(k)
        day_text = self.day(k).isoformat()

        baseline = self.activity.day(_rng(seed, "activity", k), k, _rng(seed, "complement_sessions", k))
        events = self.changes.apply(k, baseline)
        self.activity.remember_purchases(events)
        if self.newsletter.is_send_day(k):
            self.newsletter.send(_rng(seed, "newsletter", k), k, self.crm.consent)
        snapshot = self.crm.day(
            _rng(seed, "crm", k), k, _purchases(events), self.newsletter.withdrawals_on(k)
        )

        customers_table = exports.render_customers(self.pop, snapshot, self.fmt["customers"])
        customers_table, found = dirty.dirty_customers(seed, k, customers_table, snapshot.rows, share)
        self._write("customers", customers_table, day_text, found)

        events, found = dirty.dirty_events(seed, events, share, day_ms)
        table = exports.render_events(events, self.pop, self.anon_ids, self.catalog, self.fmt["events"])
        self._write("events", table, day_text, found)

        emails = self._mail_on(k)
        emails, found = dirty.dirty_email_events(seed, emails, share)
        table = exports.render_email_events(
            emails, self.pop, self.window, self.campaign_names, self.variant_names
        )
        self._write("email_events", table, day_text, found)
        if self.texting:
            records = in_export_order(self.sms_events.pop(k, []))
            start_s = day_ms / 1000
            write_sms_events(records, self.landing, arrives=lambda _: start_s, days=[day_text])

        stock = self.shelf.day(_rng(seed, "products", k), k)
        table = exports.render_products(self.catalog, self.shelf, *stock, self.fmt["products"])
        table, found = dirty.dirty_products(seed, k, table, share)
        self._write("products", table, day_text, found)
        self.next_day += 1
        return self.day(k)

    def _write(self, source: str, table: pa.Table, day_text: str, found: dict[str, int]) -> None:
        fmt = self.fmt[source]
        exports.write_table(table, exports.landing_path(self.landing, source, day_text, fmt), fmt)
        self.rows[source] += table.num_rows
        for kind, n in found.items():
            self.dirty_rows[source][kind] += n

    def _mail_on(self, k: int) -> EmailBatch:
        """Day k's webhook export: the newsletter's events of the day and campaign events arriving then."""
        batch = EmailBatch.concat([self.newsletter.events_on(k), *self.campaign_mail.pop(k, [])])
        return batch.take(np.argsort(batch.ts_ms // 1000, kind="stable"))

    def write_truth(self) -> Path:
        """``truth/user_truth.parquet`` and the specification the world was drawn from."""
        _write_parquet(truth_table(self.pop, self.window), self.truth_path)
        (self.truth_dir / "world_spec.yaml").write_text(self.spec.text, encoding="utf-8")
        return self.truth_path

    # -- answers to the pipeline's mail ------------------------------------------------------

    def respond(
        self,
        store: SinkStore,
        k: int,
        texts: TwilioSinkStore | None = None,
        ledger: SendLedger | None = None,
    ) -> DayAnswers:
        """Draw the reactions to the messages the providers accepted for day k (after its daily run).

        `store`: the mail sink's; `texts`: the Twilio sink's, with the send `ledger` that names
        each text's campaign (no texts are answered without them). The events land in the exports
        of day k + 1 and later, so day k + 1 must not be written yet. A message answered before
        (a rerun of the day) is not answered again.
        """
        if k + 1 != self.next_day:
            raise ValueError(f"answer day {k}'s mail after writing day {k} and before day {k + 1}")
        accepted = read_accepted(store, self.day(k), self.pop)
        key = accepted.key()
        fresh = np.flatnonzero(self.sent.find(key) < 0)
        accepted, key = accepted.take(fresh), key[fresh]
        m = len(accepted)
        reactions = draw_reactions(
            self.seed, self.spec, self.pop, accepted, self.newsletter.bounced, self.window.day_ms(k + 1)
        )
        drawn = reactions.webhook
        campaign = np.array([self._code(self.campaign_names, c) for c in accepted.campaign], np.int16)
        variant = np.array([self._code(self.variant_names, v) for v in accepted.variant], np.int16)
        who = drawn.who
        batch = EmailBatch(
            cust=accepted.cust[who],
            event=drawn.event,
            ts_ms=drawn.ts_ms,
            reason=drawn.reason,
            run_day=np.full(len(who), k, np.int32),
            campaign=campaign[who],
            variant=variant[who],
            message_id=reactions.message_id[who],
            send_id=accepted.send_id[who],
            event_id=reactions.event_id,
        )
        arrives = np.maximum((drawn.ts_ms - self.window.start_ms) // DAY_MS, k + 1)
        for d in np.unique(arrives[arrives < self.window.days]):
            self.campaign_mail[int(d)].append(batch.take(np.flatnonzero(arrives == d)))
        self.newsletter.bounced[accepted.cust[drawn.bounced]] = True

        mean_delay_ms = self.spec.effects.mean_delay_days * DAY_MS
        visits = self.changes.add(key, accepted.cust, reactions.sent, mean_delay_ms)
        self.sent.add(key, accepted.cust, reactions.sent)
        self.answered += m
        self._write_message_truth(k, accepted, reactions)
        self._write_effects_truth(zip(accepted.campaign, accepted.variant, strict=True))
        text_answers = {}
        if texts is not None:
            if ledger is None:
                raise ValueError("answering texts needs the send ledger, which names their campaigns")
            text_answers = self._answer_texts(read_texts(texts, ledger, self.day(k), self.pop), k, texts)
            visits += text_answers.pop("extra_visits")
        return DayAnswers(
            day=self.day(k),
            messages=m,
            delivered=int(drawn.delivered.sum()),
            bounced=int((drawn.bounced | drawn.dropped).sum()),
            opened=int(drawn.opened.sum()),
            clicked=int(drawn.clicked.sum()),
            unsubscribed=int(drawn.unsubscribed.sum()),
            spam_reported=int(drawn.spam_reported.sum()),
            extra_visits=visits,
            **text_answers,
        )

    def _answer_texts(self, texts: Texts, k: int, store: TwilioSinkStore) -> dict[str, int]:
        """Answer day k's texts not answered before: their callbacks and STOP replies go into the
        sms_events exports of day k + 1 and later, a STOP also to the sink (which then refuses
        that number, as Twilio does), and their effects into the days to come."""
        texts = texts.take(np.flatnonzero(self.sent.find(texts.accepted.key()) < 0))
        if not len(texts):
            return {"extra_visits": 0}
        accepted, key = texts.accepted, texts.accepted.key()
        reactions = draw_text_reactions(
            self.seed, self.spec, self.pop, self.sms_traits, texts, self.window.day_ms(k + 1)
        )
        for at_ms, record in text_callbacks(texts, reactions):
            arrives = max((at_ms - self.window.start_ms) // DAY_MS, k + 1)
            if arrives < self.window.days:
                self.sms_events[int(arrives)].append(record)
        for i in np.flatnonzero(reactions.stopped):
            store.add_opt_out(texts.stored[i].to, reactions.stop_ms[i] / 1000)
        self.texting = True
        mean_delay_ms = self.spec.effects.mean_delay_days * DAY_MS
        visits = self.changes.add(key, accepted.cust, reactions.sent, mean_delay_ms, SMS_CHANNEL)
        self.sent.add(key, accepted.cust, reactions.sent)
        self.answered += len(texts)
        self._write_text_truth(k, accepted, reactions)
        self._write_effects_truth(zip(accepted.campaign, accepted.variant, strict=True))
        return {
            "texts": len(texts),
            "texts_delivered": int(reactions.delivered.sum()),
            "stop_replies": int(reactions.stopped.sum()),
            "extra_visits": visits,
        }

    @staticmethod
    def _code(names: list[str], name: str) -> int:
        if name not in names:
            names.append(name)
        return names.index(name)

    def _write_message_truth(self, k: int, accepted, reactions) -> None:
        """``truth/messages/messages_<day>.parquet``: one row per answered message, for checks."""
        drawn, sent, cust = reactions.webhook, reactions.sent, accepted.cust
        table = pa.table(
            {
                "send_id": from_codes(accepted.send_id),
                "customer_id": self.pop.customer_id.take(pa.array(cust.astype(np.int64))),
                "campaign_id": pa.array(accepted.campaign, pa.string()),
                "variant": pa.array(accepted.variant, pa.string()),
                "run_date": pa.array([self.day(k)] * len(accepted), pa.date32()),
                "send_at": pa.array(accepted.send_ms, pa.timestamp("ms", tz="UTC")),
                "kind": pa.array(KINDS, pa.string()).take(pa.array(self.pop.kind[cust].astype(np.int32))),
                "delivered": drawn.delivered,
                "bounced": drawn.bounced | drawn.dropped,
                "opened": drawn.opened,
                "clicked": drawn.clicked,
                "unsubscribed": drawn.unsubscribed,
                "spam_reported": drawn.spam_reported,
                "personal_content": accepted.shows_own_items(),
                "extra_purchases_expected": np.round(sent.extra, 6),
                "activity_factor": sent.factor,
                "effect_start": pa.array(sent.start_ms, pa.timestamp("ms", tz="UTC")),
                "effect_end": pa.array(sent.end_ms, pa.timestamp("ms", tz="UTC")),
            }
        )
        _write_parquet(table, self.truth_dir / "messages" / f"messages_{self.day(k).isoformat()}.parquet")

    def _write_text_truth(self, k: int, accepted, reactions) -> None:
        """``truth/texts/texts_<day>.parquet``: one row per answered text, for checks."""
        sent, cust = reactions.sent, accepted.cust
        table = pa.table(
            {
                "send_id": from_codes(accepted.send_id),
                "customer_id": self.pop.customer_id.take(pa.array(cust.astype(np.int64))),
                "campaign_id": pa.array(accepted.campaign, pa.string()),
                "variant": pa.array(accepted.variant, pa.string()),
                "run_date": pa.array([self.day(k)] * len(accepted), pa.date32()),
                "send_at": pa.array(accepted.send_ms, pa.timestamp("ms", tz="UTC")),
                "kind": pa.array(KINDS, pa.string()).take(pa.array(self.pop.kind[cust].astype(np.int32))),
                "status": pa.array(reactions.status.tolist(), pa.string()),
                "error_code": pa.array(reactions.error_code.astype(np.int64), mask=reactions.error_code == 0),
                "stop_replied": reactions.stopped,
                "stop_at": pa.array(reactions.stop_ms, pa.timestamp("ms", tz="UTC"), mask=~reactions.stopped),
                "extra_purchases_expected": np.round(sent.extra, 6),
                "activity_factor": sent.factor,
                "effect_start": pa.array(sent.start_ms, pa.timestamp("ms", tz="UTC")),
                "effect_end": pa.array(sent.end_ms, pa.timestamp("ms", tz="UTC")),
            }
        )
        _write_parquet(table, self.truth_dir / "texts" / f"texts_{self.day(k).isoformat()}.parquet")

    def _write_effects_truth(self, pairs) -> None:
        """``truth/effects.csv``: what each (campaign, variant) seen so far does to each kind of user."""
        self.effect_pairs.update(pairs)
        rows = [
            {"campaign_id": campaign, "variant": variant, "kind": kind, **asdict(effect)}
            for campaign, variant in sorted(self.effect_pairs)
            for kind, effect in zip(KINDS, self.spec.effects.by_kind(campaign, variant), strict=True)
        ]
        columns = ["campaign_id", "variant", "kind", *(f.name for f in fields(Effect))]
        path = self.truth_dir / "effects.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        pd.DataFrame(rows, columns=columns).to_csv(path, index=False)

    # -- truth of an assignment ------------------------------------------------------------------

    def conversion_truth(
        self,
        customer: np.ndarray,
        send_id: list[str],
        sent: np.ndarray,
        window_from_ms: np.ndarray,
        window_to_ms: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray]:
        """(P(convert) had nothing been sent, P(convert) as assigned) in each window (from, to].

        `sent`: the row's message went out (treatment arm); its effect is found by send id (a
        message the world never answered, e.g. a failed send, did nothing).
        """
        codes = np.frombuffer("".join(send_id).encode("ascii"), np.uint8).reshape(len(send_id), -1)
        at = np.where(np.asarray(sent, bool), self.sent.find(codes_key(codes)), -1)
        return conversion_probabilities(
            self.pop,
            self.window,
            np.asarray(customer),
            np.asarray(window_from_ms, np.int64),
            np.asarray(window_to_ms, np.int64),
            self.sent.effect(at),
            self.spec.effects.mean_delay_days * DAY_MS,
        )

    def uplift_truth(self, *message: Any, **options: Any) -> np.ndarray:
        """The true uplift of the message `outcome_truth` describes (the same arguments): P(convert)
        had it been sent minus had nothing been sent, what an oracle would target by and the gain a
        message truly brings."""
        without, with_message = self.outcome_truth(*message, **options)
        return with_message - without

    def outcome_truth(
        self,
        customer_ids: list[str],
        campaign: str,
        variant: str,
        run_dates: list[date],
        send_ms: np.ndarray,
        window_days: float,
        shows_own_items: bool | np.ndarray = False,
    ) -> tuple[np.ndarray, np.ndarray]:
        """(P(convert) had nothing been sent, P(convert) had the message been sent) in (send, send +
        window_days], for a (campaign, variant) message decided on `run_dates`, sent at `send_ms`.

        The message takes effect from the day after its run date (that day's exports are written
        before the mail goes out) or its send, if later, and does nothing to a dead mailbox.
        `shows_own_items`: the message would show the user's own items (``effects.personal_content``).
        """
        who = customer_index(customer_ids, self.pop)
        send = np.asarray(send_ms, np.int64)
        after = [self.window.day_ms((d - self.window.start).days + 1) for d in run_dates]
        day_after = np.array(after, np.int64)
        cells = self.spec.effects.by_kind(campaign, variant)
        kind = self.pop.kind[who]
        sent = SentEffect(
            start_ms=np.maximum(send, day_after),
            end_ms=send + int(self.spec.effects.duration_days * DAY_MS),
            extra=np.array([c.extra_purchases for c in cells])[kind]
            * np.where(shows_own_items, self.spec.effects.personal_content_factor, 1.0)
            * self.pop.responsiveness[who],
            factor=np.array([c.activity_factor for c in cells])[kind],
            delivered=~self.pop.dead_mailbox[who],
        )
        return conversion_probabilities(
            self.pop,
            self.window,
            who,
            send,
            send + int(window_days * DAY_MS),
            sent,
            self.spec.effects.mean_delay_days * DAY_MS,
        )

    def summary(self) -> WorldSummary:
        return WorldSummary(
            home=self.home,
            landing_dir=self.landing,
            truth_path=self.truth_path,
            start_date=self.window.start,
            end_date=self.window.end,
            customers=self.pop.n,
            anonymous_visitors=self.visitors.n,
            formats=self.fmt,
            rows=dict(self.rows),
            files=dict.fromkeys(exports.SOURCES, self.next_day),
            dirty_rows={source: dict(kinds) for source, kinds in self.dirty_rows.items()},
            newsletter_messages=self.newsletter.messages,
            spec=self.spec.source,
            messages_answered=self.answered,
        )


def generate_world(home: Path, **options: Any) -> WorldSummary:
    """Write a history nobody mails: one landing file per source per day and the truth file.

    `options` are ``World``'s (customers, days, end_date, seed, dirty_share, formats, replace,
    spec). Files: ``home/landing/{source}/{source}_{YYYY-MM-DD}.{ext}`` for each day and
    ``home/truth/user_truth.parquet``.
    """
    world = World(home, **options)
    for k in range(world.window.days):
        world.write_day(k)
    world.write_truth()
    return world.summary()

"""The world specification: the demo world's population, behaviour, mail and text answers, true effects.

A YAML file (``worlds/default.yaml`` beside this module holds every default;
docs/world_spec.md describes each field). A file given instead may leave any
field out: scalars fall back to the default file field by field, while
``effects.campaigns``, when given, replaces the default table whole, so a
world "where no campaign works" needs no cell of the default switched off.

Effects are looked up per (campaign, variant, kind of user); ``all`` matches
any. The most specific cell wins, the kind first: a cell naming the user's
kind beats any cell for all kinds, then a cell naming the campaign beats
``all``, then one naming the variant. A user's kind is their hidden
lifecycle (``steady``, ``decaying``, ``stopped``, ``never_activated``) or
``put_off``, a share of users any message puts off. ``effects.personal_content.factor``
multiplies the extra purchases of a message that showed the user's own items.

A mistake is reported as ``file:line: field: reason`` before anything is generated.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

WORLDS_DIR = Path(__file__).resolve().parent / "worlds"
DEFAULT_SPEC = WORLDS_DIR / "default.yaml"
LIFECYCLES = ("steady", "decaying", "stopped", "never_activated")
KINDS = (*LIFECYCLES, "put_off")
PUT_OFF = KINDS.index("put_off")
ANY = "all"


class WorldSpecError(ValueError):
    """An invalid world specification; the message names file, line and field."""


@dataclass(frozen=True)
class Effect:
    """What one delivered message does to one user (neutral by default)."""

    extra_purchases: float = 0.0  # expected purchase visits the message adds (times responsiveness)
    activity_factor: float = 1.0  # the user's own sessions while the effect lasts, in [0, 1]
    open_factor: float = 1.0
    click_factor: float = 1.0
    unsubscribe_factor: float = 1.0
    spam_factor: float = 1.0


@dataclass(frozen=True)
class PopulationSpec:
    visitors_per_customer: float
    median_sessions_per_day: float
    session_rate_spread: float
    lifecycle_shares: dict[str, float]
    put_off_share: float
    marketing_consent_share: float
    sms_consent_share: float
    newsletter_member_share: float
    dead_mailbox_share: float


@dataclass(frozen=True)
class BaselineSpec:
    weekend_factor: float
    median_cart_rate: float
    median_purchase_rate: float
    complement_share: float


@dataclass(frozen=True)
class EmailSpec:
    median_open_rate: float
    median_click_rate: float
    median_unsubscribe_rate: float
    spam_per_unsubscribe: float
    deferred_share: float


@dataclass(frozen=True)
class SmsSpec:
    """How texts are answered: delivery, STOP replies, and how much more a text does than an email."""

    unreachable_number_share: float  # numbers that never receive a text (a landline, a dead number)
    undelivered_share: float  # a text to a reachable number not delivered (handset out of reach)
    failed_share: float  # a text that fails at the carrier
    median_stop_rate: float  # P(STOP reply) to a delivered text, median, before unsubscribe_factor
    effect_factor: float  # a delivered text's extra_purchases relative to its campaign cell's


@dataclass(frozen=True)
class EffectsSpec:
    responsiveness_spread: float
    mean_delay_days: float
    duration_days: float
    cells: dict[tuple[str, str, str], Effect] = field(default_factory=dict)
    # A delivered message whose template data shows the user's own items (a block of theirs, not
    # its generic fallback) brings this many times its cell's extra purchases (1: no difference).
    personal_content_factor: float = 1.0

    def lookup(self, campaign: str, variant: str, kind: str) -> Effect:
        """The most specific cell: kind first, then campaign, then variant (see the module docstring)."""
        for k in (kind, ANY):
            for c in (campaign, ANY):
                for v in (variant, ANY):
                    found = self.cells.get((c, v, k))
                    if found is not None:
                        return found
        return Effect()

    def by_kind(self, campaign: str, variant: str) -> list[Effect]:
        return [self.lookup(campaign, variant, kind) for kind in KINDS]


@dataclass(frozen=True)
class WorldSpec:
    population: PopulationSpec
    baseline: BaselineSpec
    email: EmailSpec
    sms: SmsSpec
    effects: EffectsSpec
    source: str
    text: str


# (section, field) -> (check, description of the allowed values)
_UNIT = (lambda x: 0.0 <= x <= 1.0, "a number between 0 and 1")
_OPEN_UNIT = (lambda x: 0.0 < x < 1.0, "a number strictly between 0 and 1")
_POSITIVE = (lambda x: x > 0.0, "a number above 0")
_NON_NEGATIVE = (lambda x: x >= 0.0, "a number of at least 0")
_RULES: dict[str, dict[str, tuple]] = {
    "population": {
        "visitors_per_customer": (lambda x: 0.0 <= x <= 10.0, "a number between 0 and 10"),
        "median_sessions_per_day": (lambda x: 0.0 < x <= 20.0, "a number above 0 and at most 20"),
        "session_rate_spread": (lambda x: 0.0 <= x <= 3.0, "a number between 0 and 3"),
        "put_off_share": _UNIT,
        "marketing_consent_share": _UNIT,
        "sms_consent_share": _UNIT,
        "newsletter_member_share": _UNIT,
        "dead_mailbox_share": _UNIT,
    },
    "baseline": {
        "weekend_factor": (lambda x: 0.0 < x <= 5.0, "a number above 0 and at most 5"),
        "median_cart_rate": _OPEN_UNIT,
        "median_purchase_rate": _OPEN_UNIT,
        "complement_share": _UNIT,
    },
    "email": {
        "median_open_rate": _OPEN_UNIT,
        "median_click_rate": _OPEN_UNIT,
        "median_unsubscribe_rate": _OPEN_UNIT,
        "spam_per_unsubscribe": (lambda x: 0.0 <= x <= 10.0, "a number between 0 and 10"),
        "deferred_share": _UNIT,
    },
    "sms": {
        "unreachable_number_share": _UNIT,
        "undelivered_share": _UNIT,
        "failed_share": _UNIT,
        "median_stop_rate": _OPEN_UNIT,
        "effect_factor": (lambda x: 0.0 <= x <= 10.0, "a number between 0 and 10"),
    },
    "effects": {
        "responsiveness_spread": (lambda x: 0.0 <= x <= 3.0, "a number between 0 and 3"),
        "mean_delay_days": (lambda x: 0.0 < x <= 30.0, "a number above 0 and at most 30"),
        "duration_days": (lambda x: 0.0 < x <= 60.0, "a number above 0 and at most 60"),
    },
}
_PERSONAL_CONTENT_RULES = {"factor": (lambda x: 0.0 <= x <= 10.0, "a number between 0 and 10")}
_EFFECT_RULES = {
    "extra_purchases": (lambda x: 0.0 <= x <= 20.0, "a number between 0 and 20"),
    "activity_factor": (
        lambda x: 0.0 <= x <= 1.0,
        "a number between 0 and 1 (more activity is extra_purchases' job)",
    ),
    **{name: (lambda x: 0.0 <= x <= 100.0, "a number between 0 and 100") for name in (
        "open_factor", "click_factor", "unsubscribe_factor", "spam_factor")},
}  # fmt: skip


def _line(root: yaml.Node | None, path: tuple[str, ...]) -> int:
    """1-based line of the deepest step of `path` found in the composed document."""
    if root is None:
        return 1
    node, line = root, root.start_mark.line
    for part in path:
        if not isinstance(node, yaml.MappingNode):
            break
        for key, value in node.value:
            if key.value == part:
                node, line = value, key.start_mark.line
                break
        else:
            break
    return line + 1


class _Reader:
    """Validates one file's data, raising ``file:line: field: reason`` for the first mistake."""

    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        try:
            self.root = yaml.compose(text)
            self.data = yaml.safe_load(text)
        except yaml.YAMLError as error:
            mark = getattr(error, "problem_mark", None)
            line = mark.line + 1 if mark else 1
            raise WorldSpecError(
                f"{path}:{line}: not valid YAML: {getattr(error, 'problem', error)}"
            ) from None
        if self.data is None:
            self.data = {}
        if not isinstance(self.data, dict):
            raise WorldSpecError(f"{path}:1: a world specification is a mapping of sections")

    def fail(self, path: tuple[str, ...], reason: str) -> None:
        raise WorldSpecError(f"{self.path}:{_line(self.root, path)}: {'.'.join(path)}: {reason}")

    def mapping(self, value: Any, path: tuple[str, ...], allowed: tuple[str, ...] | None) -> dict:
        if not isinstance(value, dict):
            self.fail(path, "expected a mapping")
        for key in value:
            if not isinstance(key, str):
                self.fail(path, f"keys are names, got {key!r}")
            if allowed is not None and key not in allowed:
                self.fail((*path, key), f"unknown field (allowed: {', '.join(allowed)})")
        return value

    def number(self, value: Any, path: tuple[str, ...], rule: tuple) -> float:
        check, allowed = rule
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            self.fail(path, f"expected {allowed}, got {value!r}")
        if not check(float(value)):
            self.fail(path, f"expected {allowed}, got {value!r}")
        return float(value)


def _sections(reader: _Reader) -> dict:
    return reader.mapping(reader.data, (), tuple(_RULES))


def _scalars(reader: _Reader, data: dict, section: str) -> dict[str, float]:
    extra = (
        ("lifecycle_shares",)
        if section == "population"
        else ("campaigns", "personal_content")
        if section == "effects"
        else ()
    )
    body = reader.mapping(data.get(section, {}), (section,), (*_RULES[section], *extra))
    return {
        name: reader.number(value, (section, name), _RULES[section][name])
        for name, value in body.items()
        if name not in extra
    }


def _shares(reader: _Reader, data: dict) -> dict[str, float] | None:
    given = data.get("population", {}).get("lifecycle_shares")
    if given is None:
        return None
    path = ("population", "lifecycle_shares")
    body = reader.mapping(given, path, LIFECYCLES)
    if set(body) != set(LIFECYCLES):
        reader.fail(path, f"give a share for each of {', '.join(LIFECYCLES)}")
    shares = {name: reader.number(body[name], (*path, name), _UNIT) for name in LIFECYCLES}
    if abs(sum(shares.values()) - 1.0) > 1e-6:
        reader.fail(path, f"shares must add up to 1, they add up to {sum(shares.values()):g}")
    return shares


def _effect(reader: _Reader, value: Any, path: tuple[str, ...]) -> Effect:
    if not isinstance(value, dict):
        return Effect(extra_purchases=reader.number(value, path, _EFFECT_RULES["extra_purchases"]))
    body = reader.mapping(value, path, tuple(f.name for f in fields(Effect)))
    return Effect(**{name: reader.number(v, (*path, name), _EFFECT_RULES[name]) for name, v in body.items()})


def _personal_content(reader: _Reader, data: dict) -> dict[str, float]:
    """``effects.personal_content``: what showing a user their own items multiplies (field by field)."""
    given = data.get("effects", {}).get("personal_content")
    if given is None:
        return {}
    path = ("effects", "personal_content")
    body = reader.mapping(given, path, tuple(_PERSONAL_CONTENT_RULES))
    return {
        f"personal_content_{name}": reader.number(value, (*path, name), _PERSONAL_CONTENT_RULES[name])
        for name, value in body.items()
    }


def _cells(reader: _Reader, data: dict) -> dict[tuple[str, str, str], Effect] | None:
    given = data.get("effects", {}).get("campaigns")
    if given is None:
        return None
    cells: dict[tuple[str, str, str], Effect] = {}
    top = ("effects", "campaigns")
    for campaign, variants in reader.mapping(given, top, None).items():
        for variant, kinds in reader.mapping(variants, (*top, campaign), None).items():
            for kind, value in reader.mapping(kinds, (*top, campaign, variant), (*KINDS, ANY)).items():
                cells[(campaign, variant, kind)] = _effect(reader, value, (*top, campaign, variant, kind))
    return cells


def _read(path: Path) -> tuple[_Reader, dict]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise WorldSpecError(f"{path}: cannot read the world specification: {error.strerror}") from None
    reader = _Reader(path, text)
    return reader, _sections(reader)


def load_spec(path: str | Path | None = None) -> WorldSpec:
    """The default world, or the file at `path` with every field it leaves out taken from the default."""
    default_reader, default_data = _read(DEFAULT_SPEC)
    values = {section: _scalars(default_reader, default_data, section) for section in _RULES}
    values["effects"].update(_personal_content(default_reader, default_data))
    shares = _shares(default_reader, default_data)
    cells = _cells(default_reader, default_data)
    source, text = DEFAULT_SPEC, default_reader.path.read_text(encoding="utf-8")
    if path is not None:
        source = Path(path)
        reader, data = _read(source)
        text = source.read_text(encoding="utf-8")
        for section in _RULES:
            values[section].update(_scalars(reader, data, section))
        values["effects"].update(_personal_content(reader, data))
        shares = _shares(reader, data) or shares
        given = _cells(reader, data)
        cells = given if given is not None else cells
    missing = [f"{s}.{n}" for s, rules in _RULES.items() for n in rules if n not in values[s]]
    if values["sms"].get("undelivered_share", 0.0) + values["sms"].get("failed_share", 0.0) > 1.0:
        raise WorldSpecError(f"{source}: sms.undelivered_share and sms.failed_share add up to more than 1")
    if missing or shares is None or cells is None:
        raise WorldSpecError(f"{DEFAULT_SPEC}: the default world lacks {', '.join(missing) or 'a section'}")
    return WorldSpec(
        population=PopulationSpec(lifecycle_shares=shares, **values["population"]),
        baseline=BaselineSpec(**values["baseline"]),
        email=EmailSpec(**values["email"]),
        sms=SmsSpec(**values["sms"]),
        effects=EffectsSpec(cells=cells, **values["effects"]),
        source=str(source),
        text=text,
    )

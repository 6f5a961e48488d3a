"""Load campaign YAML files, rejecting any mistake with its file, line and reason.

Campaigns are edited by analysts and reviewed as code, so a bad file must
fail before anything runs and point at the exact line: the document is
composed with PyYAML to keep every node's position, validated against the
JSON Schema in `schema.py`, then checked for what a schema cannot express
(one template kind, unique variant names, Jinja that compiles and only uses
known variables, SQL that binds against the features contract, unique
campaign ids across files).

Run `python -m reengage.defs.interventions.campaigns [folder]` to check a
folder (exit code 1 and `file:line: reason` lines on failure), e.g. in CI.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
import jsonschema
import yaml
from jsonschema.exceptions import best_match

from reengage.channels import CHANNELS, refusal
from reengage.defs.interventions import templating
from reengage.defs.interventions.blocks import BLOCK_KINDS, DEFAULT_WHEN_EMPTY, Block, block_variables
from reengage.defs.interventions.predicates import check_predicate
from reengage.defs.interventions.schema import (
    CAMPAIGN_SCHEMA,
    FEATURE_COLUMNS,
    MESSAGE_VARIABLES,
    SCORE_COLUMNS,
)

CAMPAIGN_SUFFIXES = (".yaml", ".yml")
JsonPath = tuple[str | int, ...]


@dataclass(frozen=True)
class CampaignProblem:
    file: Path
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.reason}"


class CampaignError(ValueError):
    """One or more campaign files are invalid; `file`, `line`, `reason` describe the first."""

    def __init__(self, problems: Sequence[CampaignProblem]) -> None:
        if not problems:
            raise ValueError("CampaignError needs at least one problem")
        self.problems = list(problems)
        self.file = self.problems[0].file
        self.line = self.problems[0].line
        self.reason = self.problems[0].reason
        super().__init__("\n".join(str(p) for p in self.problems))


@dataclass(frozen=True)
class Trigger:
    """All given conditions must hold (segments and stages match any listed value)."""

    segments: tuple[str, ...] = ()
    flags: tuple[str, ...] = ()
    dormancy_stages: tuple[str, ...] = ()
    min_churn_score: float | None = None
    sql: str | None = None


@dataclass(frozen=True)
class Audience:
    countries: tuple[str, ...] = ()
    plans: tuple[str, ...] = ()
    segments: tuple[str, ...] = ()
    min_lifetime_value: float | None = None
    max_lifetime_value: float | None = None
    min_tenure_days: int | None = None


@dataclass(frozen=True)
class Template:
    """A SendGrid dynamic template, or a Jinja subject and body the pipeline renders."""

    sendgrid_template_id: str | None = None
    subject: str | None = None
    body: str | None = None
    format: str = "html"
    data: Mapping[str, str] = field(default_factory=dict)  # template key -> features column
    constants: Mapping[str, Any] = field(default_factory=dict)
    # The most SMS segments this campaign's text may take, within what a channel that counts segments
    # allows by default; None: the channel's own limit. Has no meaning for email.
    max_segments: int | None = None
    # The personal blocks the template shows, in the order the file names them (blocks.py).
    blocks: tuple[Block, ...] = ()

    @property
    def kind(self) -> str:
        return "sendgrid" if self.sendgrid_template_id else "jinja"


@dataclass(frozen=True)
class Variant:
    name: str
    weight: float
    control: bool = False
    data: Mapping[str, Any] = field(default_factory=dict)
    subject: str | None = None
    body: str | None = None
    sendgrid_template_id: str | None = None
    # False: the message leaves the template's blocks out (`blocks: false`), so the variant is the
    # generic message personal content is measured against. The blocks' empty rules stay the
    # campaign's: decided before the draw, they keep the same users in every variant.
    shows_blocks: bool = True


# Exploration share of an uplift campaign that does not set one: enough random sends to keep
# learning and to measure every kind of user, few enough that targeting still decides most sends.
DEFAULT_EXPLORATION_SHARE = 0.1


@dataclass(frozen=True)
class Targeting:
    """Which of the users a campaign's trigger matched it assigns (campaigns/README.md, "Targeting").

    `rules` assigns every one; the other modes assign about `budget` of them a day: `uplift` the
    highest predicted uplift (never a predicted harm, never below `min_uplift`), `risk` the highest
    churn probability, `random` a random draw. `exploration_share` of the users that may be sent
    are assigned at random on top of the ranking, whatever their score.
    """

    mode: str = "rules"
    budget_share: float | None = None  # of the users the campaign won the day for
    budget_sends: int | None = None  # assignments a day (both arms)
    min_uplift: float = 0.0  # predicted absolute lift of the target event's probability
    exploration_share: float = 0.0

    @property
    def ranked(self) -> bool:
        return self.mode != "rules"


@dataclass(frozen=True)
class Campaign:
    id: str
    description: str
    trigger: Trigger
    audience: Audience
    channels: tuple[str, ...]  # in order of preference: the first the user can be reached on
    template: Template
    variants: tuple[Variant, ...]
    holdout_share: float
    priority: int
    cooldown_days: int
    attribution_window_days: int = 7
    target_event: str = "purchase"
    enabled: bool = True
    targeting: Targeting = field(default_factory=Targeting)
    source: Path | None = None

    @property
    def control(self) -> Variant:
        return next(v for v in self.variants if v.control)

    def variant(self, name: str) -> Variant:
        return next(v for v in self.variants if v.name == name)

    def template_id_for(self, variant: Variant) -> str | None:
        return variant.sendgrid_template_id or self.template.sendgrid_template_id

    def subject_for(self, variant: Variant) -> str | None:
        return variant.subject or self.template.subject

    def body_for(self, variant: Variant) -> str | None:
        return variant.body or self.template.body

    def blocks_for(self, variant: Variant) -> tuple[Block, ...]:
        """The blocks a variant's message shows: the template's, or none (`blocks: false`)."""
        return self.template.blocks if variant.shows_blocks else ()


# --- positions -------------------------------------------------------------------------


def _child(node: yaml.Node, part: str | int) -> tuple[yaml.Node, yaml.Node] | None:
    """(key-or-item node, value node) for one step of a JSON path, or None if absent."""
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode) and key.value == str(part):
                return key, value
    if isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
        return node.value[part], node.value[part]
    return None


def _node_at(root: yaml.Node, path: Iterable[str | int]) -> tuple[int, yaml.Node]:
    """1-based line of the deepest existing step of `path` (the key line for a mapping entry)."""
    line, node = root.start_mark.line, root
    for part in path:
        step = _child(node, part)
        if step is None:
            break
        line, node = step[0].start_mark.line, step[1]
    return line + 1, node


def _duplicate_keys(node: yaml.Node, path: JsonPath = ()) -> Iterable[tuple[int, str]]:
    """PyYAML silently keeps the last of two equal keys; an analyst almost never means that."""
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key, value in node.value:
            name = str(key.value)
            if name in seen:
                where = ".".join(str(p) for p in (*path, name))
                yield key.start_mark.line + 1, f"{where}: duplicate key '{name}'"
            seen.add(name)
            yield from _duplicate_keys(value, (*path, name))
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            yield from _duplicate_keys(item, (*path, index))


def _dotted(path: Iterable[str | int]) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "campaign"


# --- validation ------------------------------------------------------------------------

_VALIDATOR = jsonschema.Draft202012Validator(CAMPAIGN_SCHEMA)


def _schema_problems(data: Any, root: yaml.Node) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    for error in _VALIDATOR.iter_errors(data):
        if error.validator == "oneOf" and error.context:
            error = best_match(error.context)
        path: JsonPath = tuple(error.absolute_path)
        if error.validator == "enum" and path[:1] in (("channel",), ("channels",)):
            line, _ = _node_at(root, path)
            found.append((line, f"{_dotted(path)}: {refusal(str(error.instance))}"))
            continue
        if error.validator == "additionalProperties" and isinstance(error.instance, dict):
            allowed = set(error.schema.get("properties", {}))
            for extra in sorted(set(error.instance) - allowed, key=str):
                line, _ = _node_at(root, (*path, extra))
                known = ", ".join(sorted(allowed))
                found.append((line, f"{_dotted((*path, extra))}: unknown field (allowed: {known})"))
            continue
        line, _ = _node_at(root, path)
        found.append((line, f"{_dotted(path)}: {error.message}"))
    return found


def _template_line(root: yaml.Node, path: JsonPath, template_line: int | None) -> int:
    """File line of line `template_line` inside the YAML string at `path`."""
    line, node = _node_at(root, path)
    if template_line is None:
        return line
    if getattr(node, "style", None) in ("|", ">"):
        # Block scalar: content starts on the line after the indicator.
        return node.start_mark.line + 1 + template_line
    return node.start_mark.line + template_line


def _check_jinja(
    root: yaml.Node, path: JsonPath, source: str, known: set[str], label: str
) -> list[tuple[int, str]]:
    try:
        used = templating.undeclared_variables(source)
    except jinja2.TemplateSyntaxError as error:
        line = _template_line(root, path, error.lineno)
        return [(line, f"{_dotted(path)}: {label} does not compile: {error.message}")]
    unknown = sorted(set(used) - known, key=lambda name: (used[name], name))
    if unknown:
        line = _template_line(root, path, used[unknown[0]])
        names = ", ".join(repr(u) for u in unknown)
        return [
            (
                line,
                f"{_dotted(path)}: {label} uses unknown variable(s) {names}; use features columns, "
                f"{', '.join(sorted(MESSAGE_VARIABLES))}, blocks named in template.blocks, or keys of "
                "template.data, template.constants or the variant's data",
            )
        ]
    return []


def _semantic_problems(data: dict[str, Any], root: yaml.Node) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []

    def add(path: JsonPath, reason: str) -> None:
        found.append((_node_at(root, path)[0], f"{_dotted(path)}: {reason}"))

    template: dict[str, Any] = data["template"]
    variants: list[dict[str, Any]] = data.get("variants") or [{"name": "control", "weight": 1}]

    names: set[str] = set()
    controls = 0
    for index, variant in enumerate(variants):
        if variant["name"] in names:
            add(("variants", index, "name"), f"duplicate variant name '{variant['name']}'")
        names.add(variant["name"])
        if variant.get("control"):
            controls += 1
            if controls > 1:
                add(("variants", index, "control"), "only one variant can be the control")

    is_sendgrid = "sendgrid_template_id" in template
    has_jinja = "subject" in template or "body" in template
    if is_sendgrid and has_jinja:
        add(("template",), "use either sendgrid_template_id or a Jinja subject and body, not both")
        return found
    if not is_sendgrid and not has_jinja:
        add(("template",), "needs sendgrid_template_id, or a Jinja subject and body")
        return found
    if not is_sendgrid:
        # A subject only where a channel of the campaign has one (email; a text has none).
        for part in ("subject", "body") if _needs_subject(data) else ("body",):
            if part not in template:
                add(("template",), f"a pipeline-rendered template needs '{part}' as well")
    for index, variant in enumerate(variants):
        for part in ("subject", "body") if is_sendgrid else ("sendgrid_template_id",):
            if part in variant:
                kind = "a SendGrid template" if is_sendgrid else "a Jinja template"
                add(("variants", index, part), f"cannot override '{part}' of {kind}")

    _check_channels(data, "sendgrid" if is_sendgrid else "jinja", add)

    columns = set(FEATURE_COLUMNS) | set(SCORE_COLUMNS)
    for key, column in (template.get("data") or {}).items():
        if column not in columns:
            add(("template", "data", key), f"'{column}' is not a features column")
    blocks = block_variables(tuple(template.get("blocks") or {}))
    _check_block_names(blocks, template, variants, add)
    found += _blockless_variant_problems(root, template, variants, blocks, add)

    if not is_sendgrid:
        base_known = (
            columns
            | set(MESSAGE_VARIABLES)
            | blocks
            | set(template.get("data") or {})
            | set(template.get("constants") or {})
        )
        for part in ("subject", "body"):
            if part in template:
                # A shared template may only use data keys that every variant rendering it provides.
                users = [v for v in variants if part not in v] or [{}]
                shared = set.intersection(*(base_known | set(v.get("data") or {}) for v in users))
                found += _check_jinja(root, ("template", part), template[part], shared, part)
        for index, variant in enumerate(variants):
            known = base_known | set(variant.get("data") or {})
            for part in ("subject", "body"):
                if part in variant:
                    found += _check_jinja(root, ("variants", index, part), variant[part], known, part)

    predicate = (data.get("trigger") or {}).get("sql")
    if predicate is not None:
        reason = check_predicate(predicate)
        if reason:
            add(("trigger", "sql"), reason)

    audience = data.get("audience") or {}
    low, high = audience.get("min_lifetime_value"), audience.get("max_lifetime_value")
    if low is not None and high is not None and low > high:
        add(("audience", "max_lifetime_value"), "is below min_lifetime_value")
    _check_targeting(data.get("targeting"), add)
    return found


def _check_block_names(
    blocks: set[str],
    template: dict[str, Any],
    variants: list[dict[str, Any]],
    add: Callable[[JsonPath, str], None],
) -> None:
    """A data or constant key named like a block would hide it (or it them) in the template's data."""
    for part in ("data", "constants"):
        for key in sorted(set(template.get(part) or {}) & blocks):
            add(("template", part, key), f"'{key}' is the name of a block in template.blocks: rename the key")
    for index, variant in enumerate(variants):
        for key in sorted(set(variant.get("data") or {}) & blocks):
            add(
                ("variants", index, "data", key),
                f"'{key}' is the name of a block in template.blocks: rename the key",
            )


def _blockless_variant_problems(
    root: yaml.Node,
    template: dict[str, Any],
    variants: list[dict[str, Any]],
    blocks: set[str],
    add: Callable[[JsonPath, str], None],
) -> list[tuple[int, str]]:
    """`blocks: false` needs blocks to leave out, and a Jinja text it renders must not show them."""
    found: list[tuple[int, str]] = []
    for index, variant in enumerate(variants):
        if "blocks" not in variant:
            continue
        if not blocks:
            add(("variants", index, "blocks"), "the template shows no blocks (template.blocks) to leave out")
            continue
        if variant["blocks"]:
            continue
        for part in ("subject", "body"):
            own = part in variant
            source = variant[part] if own else template.get(part)
            if not isinstance(source, str):
                continue
            try:
                used = templating.undeclared_variables(source)
            except jinja2.TemplateSyntaxError:
                continue  # reported where the text is checked
            shown = sorted(set(used) & blocks, key=lambda name: (used[name], name))
            if shown:
                path: JsonPath = ("variants", index, part) if own else ("template", part)
                line = _template_line(root, path, used[shown[0]])
                names = ", ".join(repr(name) for name in shown)
                found.append(
                    (
                        line,
                        f"{_dotted(('variants', index, 'blocks'))}: variant '{variant['name']}' leaves the "
                        f"blocks out, but its {part} ({_dotted(path)}) uses {names}: give the variant "
                        f"its own {part}",
                    )
                )
    return found


def _check_channels(data: dict[str, Any], template_kind: str, add: Callable[[JsonPath, str], None]) -> None:
    """Exactly one of `channel` and `channels`, each channel able to send the campaign's template."""
    if "channel" in data and "channels" in data:
        add(("channels",), "give either channel (one) or channels (in order of preference), not both")
        return
    if "channel" not in data and "channels" not in data:
        add((), "needs channel (e.g. channel: email) or channels (a list)")
        return
    body_format = data["template"].get("format", "html")
    if "max_segments" in data["template"] and not any(
        CHANNELS[name].limits.max_segments is not None for _, name in _channel_paths(data) if name in CHANNELS
    ):
        add(("template", "max_segments"), "limits texts: name a channel that sends them (e.g. sms)")
    for path, name in _channel_paths(data):
        limits = CHANNELS[name].limits
        if template_kind not in limits.template_kinds:
            add(path, f"channel '{name}' cannot send a {template_kind} template")
        elif template_kind == "jinja" and body_format not in limits.formats:
            # An html body is escaped for markup: a text would show `&amp;` for every `&`.
            add(
                path,
                f"channel '{name}' sends {' or '.join(limits.formats)} bodies: set template.format: text",
            )


def _needs_subject(data: dict[str, Any]) -> bool:
    """Whether a channel the campaign names has a subject (a file naming none is refused elsewhere)."""
    if "channel" not in data and "channels" not in data:
        return True
    return any(CHANNELS[name].limits.needs_subject for _, name in _channel_paths(data) if name in CHANNELS)


def _channel_paths(data: dict[str, Any]) -> list[tuple[JsonPath, str]]:
    if "channel" in data:
        return [(("channel",), data["channel"])]
    return [(("channels", i), name) for i, name in enumerate(data["channels"])]


def _check_targeting(targeting: dict[str, Any] | None, add: Callable[[JsonPath, str], None]) -> None:
    """What the schema cannot say about `targeting`: which fields each mode takes and needs."""
    if targeting is None:
        return
    mode = targeting["mode"]
    path = ("targeting",)
    if mode == "rules":
        for key in ("budget", "min_uplift", "exploration_share"):
            if key in targeting:
                add((*path, key), "only ranked targeting (uplift, risk, random) takes a budget or shares")
        return
    if "budget" not in targeting:
        add((*path, "mode"), f"{mode} targeting needs a budget (share: or sends:)")
    if "min_uplift" in targeting and mode != "uplift":
        add((*path, "min_uplift"), "only uplift targeting has a minimum predicted uplift")
    if mode == "random" and "exploration_share" in targeting:
        add((*path, "exploration_share"), "random targeting draws every assignment at random already")
    if mode == "uplift" and targeting.get("exploration_share") == 0:
        # Without random sends the model only ever sees users it chose: it stops learning and
        # measurement can no longer compare like with like.
        add((*path, "exploration_share"), "uplift targeting needs an exploration share above 0")
    share = (targeting.get("budget") or {}).get("share")
    exploration = targeting.get("exploration_share", DEFAULT_EXPLORATION_SHARE if mode == "uplift" else 0)
    if share is not None and share < exploration:
        add(
            (*path, "budget", "share"),
            f"is below the exploration share ({exploration}): exploration alone would exceed the budget",
        )


def _as_tuple(value: str | list[str] | None) -> tuple[str, ...]:
    if value is None:
        return ()
    return (value,) if isinstance(value, str) else tuple(value)


def _build(data: dict[str, Any], source: Path) -> Campaign:
    trigger, audience, template = data["trigger"], data.get("audience") or {}, data["template"]
    raw_variants = data.get("variants") or [{"name": "control", "weight": 1}]
    control_index = next((i for i, v in enumerate(raw_variants) if v.get("control")), 0)
    variants = tuple(
        Variant(
            name=v["name"],
            weight=float(v["weight"]),
            control=i == control_index,
            data=dict(v.get("data") or {}),
            subject=v.get("subject"),
            body=v.get("body"),
            sendgrid_template_id=v.get("sendgrid_template_id"),
            shows_blocks=bool(v.get("blocks", True)),
        )
        for i, v in enumerate(raw_variants)
    )
    return Campaign(
        id=data["id"],
        description=data["description"].strip(),
        trigger=Trigger(
            segments=_as_tuple(trigger.get("segment")),
            flags=_as_tuple(trigger.get("flag")),
            dormancy_stages=_as_tuple(trigger.get("dormancy_stage")),
            min_churn_score=trigger.get("min_churn_score"),
            sql=trigger.get("sql"),
        ),
        audience=Audience(
            countries=tuple(audience.get("countries") or ()),
            plans=tuple(audience.get("plans") or ()),
            segments=tuple(audience.get("segments") or ()),
            min_lifetime_value=audience.get("min_lifetime_value"),
            max_lifetime_value=audience.get("max_lifetime_value"),
            min_tenure_days=audience.get("min_tenure_days"),
        ),
        channels=tuple(name for _, name in _channel_paths(data)),
        template=Template(
            sendgrid_template_id=template.get("sendgrid_template_id"),
            subject=template.get("subject"),
            body=template.get("body"),
            format=template.get("format", "html"),
            data=dict(template.get("data") or {}),
            constants=dict(template.get("constants") or {}),
            max_segments=template.get("max_segments"),
            blocks=_blocks(template.get("blocks") or {}),
        ),
        variants=variants,
        holdout_share=float(data["holdout_share"]),
        priority=int(data["priority"]),
        cooldown_days=int(data["cooldown_days"]),
        attribution_window_days=int(data.get("attribution_window_days", 7)),
        target_event=data.get("target_event", "purchase"),
        enabled=bool(data.get("enabled", True)),
        targeting=_targeting(data.get("targeting")),
        source=source,
    )


def _blocks(data: dict[str, dict[str, Any]]) -> tuple[Block, ...]:
    return tuple(
        Block(
            name=name,
            limit=int((settings or {}).get("limit", BLOCK_KINDS[name].default_limit)),
            when_empty=(settings or {}).get("when_empty", DEFAULT_WHEN_EMPTY),
        )
        for name, settings in data.items()
    )


def _targeting(data: dict[str, Any] | None) -> Targeting:
    if data is None:
        return Targeting()
    mode = data["mode"]
    budget = data.get("budget") or {}
    default_exploration = DEFAULT_EXPLORATION_SHARE if mode == "uplift" else 0.0
    return Targeting(
        mode=mode,
        budget_share=budget.get("share"),
        budget_sends=budget.get("sends"),
        min_uplift=float(data.get("min_uplift", 0.0)),
        exploration_share=float(data.get("exploration_share", default_exploration)),
    )


def _parse(path: Path) -> tuple[Campaign | None, list[CampaignProblem], int]:
    """The campaign in `path` (None if invalid), its problems, and the line of its `id`."""

    def problems(found: Iterable[tuple[int, str]]) -> list[CampaignProblem]:
        return [CampaignProblem(path, line, reason) for line, reason in sorted(found)]

    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        return None, problems([(1, f"cannot read file: {error}")]), 1
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text) if root is not None else None
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        reason = f"not valid YAML: {error.problem or error}"
        if error.context and error.context_mark:
            reason += f" ({error.context} on line {error.context_mark.line + 1})"
            # An unclosed quote or bracket is only noticed at the end of the file;
            # the line where it was opened is the one to fix.
            if "end of stream" in (error.problem or ""):
                mark = error.context_mark
        line = mark.line + 1 if mark else 1
        return None, problems([(line, reason)]), line
    except yaml.YAMLError as error:
        return None, problems([(1, f"not valid YAML: {error}")]), 1
    if root is None:
        return None, problems([(1, "file is empty; expected one campaign")]), 1
    if not isinstance(data, dict):
        return None, problems([(root.start_mark.line + 1, "expected a mapping of campaign fields")]), 1

    id_line = _node_at(root, ("id",))[0]
    found = list(_duplicate_keys(root)) + _schema_problems(data, root)
    if found:
        return None, problems(found), id_line
    found = _semantic_problems(data, root)
    if found:
        return None, problems(found), id_line
    return _build(data, path), [], id_line


def load_campaign(path: Path | str) -> Campaign:
    """One campaign file; raises CampaignError naming the file, line and reason."""
    campaign, problems, _ = _parse(Path(path))
    if problems or campaign is None:
        raise CampaignError(problems)
    return campaign


def campaign_files(directory: Path | str) -> list[Path]:
    folder = Path(directory)
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix in CAMPAIGN_SUFFIXES)


def copy_example_campaigns(folder: Path) -> list[Path]:
    """Copy the example campaigns the product ships (with their schema and README) into `folder` when it
    holds no campaign file, so a new project starts from campaigns that run; an analyst's own folder is
    never touched."""
    from reengage import settings

    if folder.is_dir() and campaign_files(folder):
        return []
    folder.mkdir(parents=True, exist_ok=True)
    copied = []
    for example in sorted(settings.EXAMPLE_CAMPAIGNS_DIR.iterdir()):
        if example.is_file():
            copied.append(Path(shutil.copyfile(example, folder / example.name)))
    return copied


def load_campaigns(directory: Path | str) -> list[Campaign]:
    """Every campaign in a folder (disabled ones included), sorted by priority then id.

    All files are checked before raising, so one run reports every mistake; the
    error lists each as `file:line: reason`.
    """
    folder = Path(directory)
    if not folder.is_dir():
        raise CampaignError([CampaignProblem(folder, 0, "campaign folder does not exist")])
    campaigns: list[Campaign] = []
    problems: list[CampaignProblem] = []
    first_seen: dict[str, Path] = {}
    for path in campaign_files(folder):
        campaign, found, id_line = _parse(path)
        problems += found
        if campaign is None:
            continue
        if campaign.id in first_seen:
            problems.append(
                CampaignProblem(
                    path,
                    id_line,
                    f"id: duplicate campaign id '{campaign.id}' (also in {first_seen[campaign.id]})",
                )
            )
            continue
        first_seen[campaign.id] = path
        campaigns.append(campaign)
    if problems:
        raise CampaignError(problems)
    return sorted(campaigns, key=lambda c: (c.priority, c.id))


def main(argv: Sequence[str] | None = None) -> int:
    """Check a campaign folder from the command line (CI, pre-commit)."""
    from reengage import settings

    args = list(sys.argv[1:] if argv is None else argv)
    folder = Path(args[0]) if args else settings.campaigns_dir()
    try:
        campaigns = load_campaigns(folder)
    except CampaignError as error:
        print(error, file=sys.stderr)
        return 1
    for campaign in campaigns:
        state = "enabled" if campaign.enabled else "disabled"
        print(f"ok  {campaign.id}  priority={campaign.priority}  {state}  ({campaign.source})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

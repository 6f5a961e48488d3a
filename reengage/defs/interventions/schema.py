"""The shape of a campaign file and of the features table campaigns are written against.

Kept apart from the loader so the contract an analyst writes to is one
readable page: the JSON Schema below rejects structural mistakes (unknown or
missing fields, wrong types, out-of-range numbers) and the column list, read
from the enforced dbt contract of `marts.fct_user_features`, lets the loader
check SQL predicates, template variables and data mappings against the mart
before anything runs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from reengage.channels import CHANNELS
from reengage.defs.interventions.blocks import BLOCK_KINDS, WHEN_EMPTY, BlockKind
from reengage.defs.warehouse import manifest

FEATURES_MODEL = "fct_user_features"

# The columns of `marts.fct_user_features` (one row per customer as of the run date) with their
# types, as its enforced dbt contract declares them: predicates and templates may use any of them.
FEATURE_COLUMNS: dict[str, str] = manifest.contract_columns(FEATURES_MODEL)

# Joined onto every features row by the policy engine (null when no score exists).
SCORE_COLUMNS: dict[str, str] = {"churn_probability": "double precision"}

# Extra names a template can use besides the columns above and its own data.
MESSAGE_VARIABLES: frozenset[str] = frozenset({"campaign_id", "variant", "run_date", "send_id"})

# The values the mart's own tests accept for these columns.
SEGMENTS = manifest.accepted_values(FEATURES_MODEL, "segment")
DORMANCY_STAGES = manifest.accepted_values(FEATURES_MODEL, "dormancy_stage")
# The boolean columns the mart marks `campaign_flag` (the behaviour flags of
# fct_user_behaviour_flags plus the risk and value markers), so a trigger such as "at risk and
# high value" needs no hand-written SQL.
FLAGS = manifest.columns_marked(FEATURES_MODEL, "campaign_flag")


def _one_or_many(values: list[str]) -> dict[str, Any]:
    """A single enum value or a non-empty list of them (YAML reads better both ways)."""
    return {
        "oneOf": [
            {"type": "string", "enum": values},
            {
                "type": "array",
                "items": {"type": "string", "enum": values},
                "minItems": 1,
                "uniqueItems": True,
            },
        ]
    }


# How a campaign picks among the users its trigger and audience matched (campaigns/README.md,
# "Targeting"): everyone, the highest predicted uplift, the highest churn risk, or at random.
TARGETING_MODES = ("rules", "uplift", "risk", "random")


def _block_schema(kind: BlockKind) -> dict[str, Any]:
    """One block's settings: how many items at most (within the kind's ceiling) and its empty rule."""
    properties: dict[str, Any] = {"when_empty": {"type": "string", "enum": list(WHEN_EMPTY)}}
    if kind.has_limit:
        properties["limit"] = {"type": "integer", "minimum": 1, "maximum": kind.max_limit}
    return {"type": "object", "additionalProperties": False, "properties": properties}


# Personal blocks the template shows (blocks.py, campaigns/README.md "Blocks").
BLOCKS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "minProperties": 1,
    "properties": {name: _block_schema(kind) for name, kind in BLOCK_KINDS.items()},
}

_NAME = {"type": "string", "pattern": "^[a-z][a-z0-9_]{0,62}$"}
_SCALAR = {"type": ["string", "number", "boolean", "null"]}
_SENDGRID_TEMPLATE_ID = {"type": "string", "pattern": "^d-[0-9a-fA-F]{32}$"}

CAMPAIGN_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "Re-engagement campaign",
    "type": "object",
    "additionalProperties": False,
    "required": [
        "id",
        "description",
        "trigger",
        "template",
        "priority",
        "holdout_share",
        "cooldown_days",
    ],
    "properties": {
        "id": _NAME,
        "description": {"type": "string", "minLength": 1},
        "enabled": {"type": "boolean"},
        "trigger": {
            "type": "object",
            "additionalProperties": False,
            "minProperties": 1,
            "properties": {
                "segment": _one_or_many(SEGMENTS),
                "flag": _one_or_many(FLAGS),
                "dormancy_stage": _one_or_many(DORMANCY_STAGES),
                "min_churn_score": {"type": "number", "minimum": 0, "maximum": 1},
                "sql": {"type": "string", "minLength": 1},
            },
        },
        "audience": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "countries": {
                    "type": "array",
                    "items": {"type": "string", "pattern": "^[A-Za-z]{2}$"},
                    "minItems": 1,
                    "uniqueItems": True,
                },
                "plans": {
                    "type": "array",
                    "items": {"type": "string", "minLength": 1},
                    "minItems": 1,
                    "uniqueItems": True,
                },
                "segments": {
                    "type": "array",
                    "items": {"type": "string", "enum": SEGMENTS},
                    "minItems": 1,
                    "uniqueItems": True,
                },
                "min_lifetime_value": {"type": "number", "minimum": 0},
                "max_lifetime_value": {"type": "number", "minimum": 0},
                "min_tenure_days": {"type": "integer", "minimum": 0},
            },
        },
        # One channel, or several in order of preference (the first the user can be reached on);
        # exactly one of the two (the loader says so with the line).
        "channel": {"type": "string", "enum": list(CHANNELS)},
        "channels": {
            "type": "array",
            "items": {"type": "string", "enum": list(CHANNELS)},
            "minItems": 1,
            "uniqueItems": True,
        },
        "template": {
            "type": "object",
            "additionalProperties": False,
            "minProperties": 1,
            "properties": {
                "sendgrid_template_id": _SENDGRID_TEMPLATE_ID,
                "subject": {"type": "string", "minLength": 1},
                "body": {"type": "string", "minLength": 1},
                "format": {"type": "string", "enum": ["html", "text"]},
                # Twilio refuses a body over 1,600 characters: 10 GSM-7 segments (1,530) fit, 11 don't.
                "max_segments": {"type": "integer", "minimum": 1, "maximum": 10},
                "blocks": BLOCKS_SCHEMA,
                "data": {
                    "type": "object",
                    "propertyNames": {"pattern": "^[A-Za-z_][A-Za-z0-9_]*$"},
                    "additionalProperties": {"type": "string"},
                },
                "constants": {
                    "type": "object",
                    "propertyNames": {"pattern": "^[A-Za-z_][A-Za-z0-9_]*$"},
                    "additionalProperties": _SCALAR,
                },
            },
        },
        "variants": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["name", "weight"],
                "properties": {
                    "name": _NAME,
                    "weight": {"type": "number", "exclusiveMinimum": 0},
                    "control": {"type": "boolean"},
                    "data": {
                        "type": "object",
                        "propertyNames": {"pattern": "^[A-Za-z_][A-Za-z0-9_]*$"},
                        "additionalProperties": _SCALAR,
                    },
                    "subject": {"type": "string", "minLength": 1},
                    "body": {"type": "string", "minLength": 1},
                    "sendgrid_template_id": _SENDGRID_TEMPLATE_ID,
                    # false: this variant's message leaves the template's blocks out (the generic
                    # message to measure personal content against); their empty rules still apply.
                    "blocks": {"type": "boolean"},
                },
            },
        },
        "holdout_share": {"type": "number", "minimum": 0, "exclusiveMaximum": 1},
        "priority": {"type": "integer", "minimum": 0},
        "cooldown_days": {"type": "integer", "minimum": 0},
        "attribution_window_days": {"type": "integer", "minimum": 1, "maximum": 90},
        "target_event": {"type": "string", "minLength": 1},
        "targeting": {
            "type": "object",
            "additionalProperties": False,
            "required": ["mode"],
            "properties": {
                "mode": {"type": "string", "enum": list(TARGETING_MODES)},
                "budget": {
                    "type": "object",
                    "additionalProperties": False,
                    "minProperties": 1,
                    "maxProperties": 1,
                    "properties": {
                        "share": {"type": "number", "exclusiveMinimum": 0, "maximum": 1},
                        "sends": {"type": "integer", "minimum": 1},
                    },
                },
                "min_uplift": {"type": "number", "minimum": 0, "exclusiveMaximum": 1},
                "exploration_share": {"type": "number", "minimum": 0, "exclusiveMaximum": 1},
            },
        },
    },
}


def write_json_schema(path: Path) -> None:
    """campaigns/campaign.schema.json for editors; run after editing this file or the mart's YAML."""
    path.write_text(json.dumps(CAMPAIGN_SCHEMA, indent=2) + "\n")


if __name__ == "__main__":
    from reengage import settings

    write_json_schema(settings.EXAMPLE_CAMPAIGNS_DIR / "campaign.schema.json")

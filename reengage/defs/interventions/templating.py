"""Jinja for pipeline-rendered messages: one environment, checked at load time.

Campaign files are edited by analysts, not engineers, so templates run in
Jinja's sandbox, a misspelt variable fails loudly (StrictUndefined) instead of
mailing "Hi ," to thousands of people, and a missing value (SQL NULL) renders
as an empty string rather than the word "None". HTML bodies are autoescaped so
a customer-supplied first name cannot inject markup.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import jinja2
from jinja2 import meta, nodes
from jinja2.sandbox import SandboxedEnvironment


def _finalize(value: Any) -> Any:
    return "" if value is None else value


@lru_cache(maxsize=2)
def environment(autoescape: bool) -> SandboxedEnvironment:
    """The shared environment; subjects and text bodies use autoescape=False."""
    return SandboxedEnvironment(
        autoescape=autoescape,
        undefined=jinja2.StrictUndefined,
        finalize=_finalize,
        keep_trailing_newline=True,
    )


def undeclared_variables(source: str) -> dict[str, int]:
    """Names a template reads from its context, each with the first template line using it.

    Raises TemplateSyntaxError if the template does not parse.
    """
    tree = environment(False).parse(source)
    names = meta.find_undeclared_variables(tree)
    first_use: dict[str, int] = {}
    for node in tree.find_all(nodes.Name):
        if node.name in names and node.ctx == "load":
            first_use[node.name] = min(first_use.get(node.name, node.lineno), node.lineno)
    return first_use


@lru_cache(maxsize=512)
def compile_template(source: str, autoescape: bool) -> jinja2.Template:
    """Compile once per distinct source; rendering then costs one call per message."""
    return environment(autoescape).from_string(source)


def render(source: str, context: Mapping[str, Any], autoescape: bool = False) -> str:
    return compile_template(source, autoescape).render(context)

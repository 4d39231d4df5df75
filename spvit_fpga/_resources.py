"""Files that ship with the package: the Jinja2 template folders of the hardware generators.

One environment per template folder, with the settings every generated file relies on (undefined
names are errors, no autoescaping, block tags leave no blank lines, trailing newlines kept).
"""
from __future__ import annotations

import functools
from pathlib import Path

import jinja2

__all__ = ["template_environment"]


@functools.lru_cache(maxsize=None)
def template_environment(directory: str | Path) -> jinja2.Environment:
    """The Jinja2 environment of the templates in ``directory``."""
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(directory)),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )

"""Render the project files from the Jinja2 templates in ``spvit_fpga/hls/templates``.

Every file of a generated project comes from a template file (``*.j2``, rendered with the
design plan) or is copied verbatim (``static/``, and the kernel library ``hls/``).  Rendering is
deterministic: no dates, no absolute paths, sorted iteration everywhere.
"""
from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import jinja2

from .gxx import hls_include_dir

__all__ = ["TEMPLATE_DIR", "RTL_TEMPLATE_DIR", "environment", "render", "render_rtl", "static_files",
           "kernel_library_files"]

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"
RTL_TEMPLATE_DIR = Path(__file__).resolve().parent.parent / "templates" / "rtl"


@functools.lru_cache(maxsize=None)
def environment(directory: str = str(TEMPLATE_DIR)) -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(directory),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )


def render(template: str, **context: Any) -> str:
    """Render ``templates/<template>`` with ``context``."""
    return environment().get_template(template).render(**context)


def render_rtl(template: str, **context: Any) -> str:
    """Render ``templates/rtl/<template>`` with ``context``."""
    return environment(str(RTL_TEMPLATE_DIR)).get_template(template).render(**context)


def static_files() -> dict[str, bytes]:
    """``templates/static/*``: project files copied verbatim (name -> content)."""
    d = TEMPLATE_DIR / "static"
    return {p.name: p.read_bytes() for p in sorted(d.iterdir()) if p.is_file()}


def kernel_library_files() -> dict[str, bytes]:
    """The kernel library headers (``hls/*.h``) copied into every project (name -> content)."""
    d = hls_include_dir()
    return {p.name: p.read_bytes() for p in sorted(d.glob("*.h"))}

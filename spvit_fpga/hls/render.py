"""Render the project files from the Jinja2 templates in ``spvit_fpga/hls/templates``.

Every file of a generated project comes from a template file (``*.j2``, rendered with the
design plan) or is copied verbatim (``static/``, and the kernel library ``hls/``).  Rendering is
deterministic: no dates, no absolute paths, sorted iteration everywhere.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from .._resources import hls_library_dir, template_environment

__all__ = ["TEMPLATE_DIR", "render", "static_files", "kernel_library_files"]

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"


def render(template: str, **context: Any) -> str:
    """Render ``templates/<template>`` with ``context``."""
    return template_environment(TEMPLATE_DIR).get_template(template).render(**context)


def static_files() -> dict[str, bytes]:
    """``templates/static/*``: project files copied verbatim (name -> content)."""
    d = TEMPLATE_DIR / "static"
    return {p.name: p.read_bytes() for p in sorted(d.iterdir()) if p.is_file()}


def kernel_library_files() -> dict[str, bytes]:
    """The kernel library headers (``hls/*.h``) copied into every project (name -> content)."""
    d = hls_library_dir()
    return {p.name: p.read_bytes() for p in sorted(d.glob("*.h"))}

"""Build hook: copy the example config, rules, unit, rule reference and monitoring files in.

They live at the top of the source tree (where people read and edit them);
wheels carry them as ``tagger/skel/`` so that ``tagger init`` and
``tagger demo`` work from an installed package (see ``tagger/cli/skel.py``).
Everything else about the build is in ``pyproject.toml``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
SHIPPED = (
    "config.example.yaml",
    "rules",
    "systemd/tagger.service",
    "docs/rules.md",
    # Alert rules (with their promtool tests) and a Grafana dashboard.
    "monitoring",
)


class BuildWithSkeleton(build_py):
    """``build_py`` that also copies the shipped files into ``tagger/skel``."""

    def run(self) -> None:
        super().run()
        target = Path(self.build_lib) / "tagger" / "skel"
        for name in SHIPPED:
            source = HERE / name
            if source.is_dir():
                shutil.copytree(
                    source,
                    target / name,
                    dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
                )
            else:
                (target / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, target / name)


setup(cmdclass={"build_py": BuildWithSkeleton})

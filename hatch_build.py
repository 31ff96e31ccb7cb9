"""Hatch build hook: the wheel carries a build of exactly the tables it packages.

The hook validates the tables and builds the SQLite database, Parquet files and Datasette
metadata into a temporary directory, which it adds to the wheel; nothing is written into the
checkout. Its isolated environment holds the curation stack (`require-runtime-features` in
pyproject.toml), so `pip wheel .`, `pip install .` and `python -m build` work on a fresh clone
or an sdist with no prior `sensetime-data build`. Tables that do not validate make no wheel.

`build.json` in the wheel says whether the quotes were checked against the source texts: they
are when the texts are found (`SENSETIME_DATA_SEEDS`, or `../shared/seeds` beside the checkout).
"""

import json
import shutil
import sys
import tempfile
from pathlib import Path

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

OUTPUTS = ("sensetime.db", "metadata.yml", "build.json", "parquet")


class BuildOutputs(BuildHookInterface):
    def initialize(self, version, build_data):
        if self.target_name != "wheel" or version == "editable":
            return  # an editable install reads build/ in the clone itself
        root = Path(self.root)
        sys.path.insert(0, str(root / "src"))
        from sensetime_data.build import build

        self.out = Path(tempfile.mkdtemp(prefix="sensetime-data-wheel-"))
        report = build(root, self.out)
        if not report.ok:
            problems = "\n".join(map(str, report.problems))
            raise RuntimeError(f"sensetime-data: the tables do not validate, so no wheel is made:\n{problems}")
        info_path = (self.out / "build.json").resolve()
        info = json.loads(info_path.read_text("utf-8"))
        info["quotes_checked"] = bool(report.ledger)  # a ledger for each source text found: then every quote was checked
        info_path.write_text(json.dumps(info, indent=2) + "\n", "utf-8")
        for name in OUTPUTS:  # resolved: the build's outputs may be links into its current generation
            build_data["force_include"][str((self.out / name).resolve())] = f"sensetime_data/data/build/{name}"

    def finalize(self, version, build_data, artifact_path):
        if getattr(self, "out", None):
            shutil.rmtree(self.out, ignore_errors=True)

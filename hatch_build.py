"""Hatch build hook: the wheel carries the built database, Parquet files and Datasette metadata.

They are built by `sensetime-data build` (which needs the project's dependencies, not present
in an isolated build environment), so the hook takes them from `build/` and refuses to make a
wheel when they are missing or were built from other tables than those being packaged.
"""

import json
import sys
from pathlib import Path

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

OUTPUTS = ("sensetime.db", "metadata.yml", "build.json", "parquet")


class BuildOutputs(BuildHookInterface):
    def initialize(self, version, build_data):
        if self.target_name != "wheel" or version == "editable":
            return  # an editable install reads build/ in the clone itself
        root = Path(self.root)
        sys.path.insert(0, str(root / "src"))
        from sensetime_data.schema import inputs_digest  # standard library only

        info = root / "build" / "build.json"
        built = json.loads(info.read_text("utf-8")).get("inputs_sha256") if info.exists() else None
        if built != inputs_digest(root):
            raise RuntimeError("build/ is missing or older than the tables: run `sensetime-data build` first")
        for name in OUTPUTS:
            build_data["force_include"][str(root / "build" / name)] = f"sensetime_data/data/build/{name}"

#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Write the golden vectors in tests/golden/ from the reference implementations.

Run with Debian's interpreter (`/usr/bin/python3 tools/golden.py`, or
`make golden`): scipy 1.10 (python3-scipy), statsmodels 0.13
(python3-statsmodels), and R 4.2 (r-base-core) for wilcox.test.

Each module tools/golden/gen_<name>.py defines generate() -> dict of
{file_stem: document}; every document is written to tests/golden/<stem>.json.
Documents are {"generator": ..., "cases": [...]}; NaN becomes null.
Only fixed seeds are used, so a rerun reproduces the files byte for byte.
"""
import importlib.util
import json
import math
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "golden"


def clean(obj):
    """NaN -> None recursively; numpy scalars/arrays -> Python values."""
    if hasattr(obj, "tolist"):
        obj = obj.tolist()
    if isinstance(obj, float):
        return None if math.isnan(obj) else obj
    if isinstance(obj, dict):
        return {k: clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [clean(v) for v in obj]
    return obj


def main():
    only = set(sys.argv[1:])
    OUT.mkdir(parents=True, exist_ok=True)
    for path in sorted((ROOT / "tools" / "golden").glob("gen_*.py")):
        name = path.stem[len("gen_"):]
        if only and name not in only:
            continue
        spec = importlib.util.spec_from_file_location(path.stem, path)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        for stem, doc in mod.generate().items():
            target = OUT / f"{stem}.json"
            with open(target, "w") as f:
                json.dump(clean(doc), f, separators=(",", ":"), allow_nan=False)
                f.write("\n")
            print(f"wrote {target.relative_to(ROOT)} "
                  f"({len(doc.get('cases', []))} cases)")


if __name__ == "__main__":
    main()

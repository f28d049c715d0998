"""Every program under examples/ runs and says what it should; the benchmark runs (--quick).

Examples are run as users run them: a subprocess of the project's Python, from the repository
root. Each example needs an entry in EXPECTED listing lines its output must contain, so a
walk-through that silently stops showing something fails here. The benchmark is only a smoke
test: it completes and prints its table; no figure or timing is ever asserted.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Programs that run forever (kcore.run) are tested in-process by their own test instead.
RUN_ELSEWHERE = {"website_pages.py": "tests/test_example_website.py"}
EXAMPLES = sorted(p for p in (ROOT / "examples").glob("*.py") if p.name not in RUN_ELSEWHERE)
VENV_PYTHON = ROOT / ".venv" / "bin" / "python"
PYTHON = str(VENV_PYTHON) if VENV_PYTHON.exists() else sys.executable

EXPECTED: dict[str, list[str]] = {
    "bucket_operator.py": [
        "[t=  0.000s] bucket photos: finalizer added",
        "[t=  0.000s] bucket photos: 2 shard(s) ready (generation 1)",
        "[t=  0.000s] bucket photos: 4 shard(s) ready (generation 2)",
        "[t=600.000s] bucket photos: archiving 4 shard(s) before deletion",
        "[t=600.000s] bucket photos: finalizer removed; the bucket can go",
        "bucket photos deleted; shards left: 0",
        "errors: 0",
    ],
    "store_walkthrough.py": [
        "put /config/color=blue -> revision 2, version 1",
        "put /config/color=green -> revision 4, version 2",
        "first CAS (mod_revision == 4) succeeded: red",
        "second CAS (mod_revision == 4) failed: color is red since revision 5",
        "revision 2: PUT /config/color=blue",
        "revision 3: PUT /config/size=large",
        "revision 5: PUT /config/color=red",
        "reading /config/color at revision 3 fails: mvcc: required revision has been compacted",
        "revision 8: DELETE /nodes/a",
        "revision 8: DELETE /nodes/b",
        "keys left under /nodes/: 0",
    ],
}


def run(*args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PYTHON, *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False
    )


def test_there_are_examples() -> None:
    assert EXAMPLES, "examples/ has no programs; `make demo` runs examples/store_walkthrough.py"


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_runs_and_prints_what_it_shows(path: Path) -> None:
    assert path.name in EXPECTED, f"add the lines {path.name} must print to EXPECTED"
    result = run(str(path.relative_to(ROOT)), timeout=120)
    assert result.returncode == 0, f"{path.name} exited {result.returncode}:\n{result.stderr}"
    missing = [line for line in EXPECTED[path.name] if line not in result.stdout]
    assert not missing, f"{path.name} did not print {missing}; it printed:\n{result.stdout}"


def test_store_benchmark_quick_run_prints_its_table() -> None:
    result = run("benchmarks/store_bench.py", "--quick", timeout=600)
    assert result.returncode == 0, f"store_bench.py exited {result.returncode}:\n{result.stderr}"
    for heading in ("figure", "kcore", "floor", "ratio", "target", "met"):
        assert heading in result.stdout, f"no {heading!r} column:\n{result.stdout}"
    for row in ("put/s", "single-key range/s", "prefix range/s", "txn/s", "watch deliveries/s"):
        assert row in result.stdout, f"no {row!r} row:\n{result.stdout}"
    assert "bytes/key above raw" in result.stdout
    assert "ERROR" not in result.stdout, result.stdout

"""Sizes of the course's wheels and the time to install the course library.

    .venv/bin/python benchmarks/packaging.py [--repeat N]

Prints figures, not assertions:

- every wheel of ``publish/wheels.py``, built with ``python -m build``:
  the time to build it, its size and its size once unpacked;
- the time to install the course library from its wheel:
  - into a fresh virtual environment that already has its dependencies
    (what the install cell costs in Colab or a Jupyter with numpy and
    matplotlib): ``pip install --no-index --find-links WHEELS seqbook==V``,
    N times (uninstalled in between), median;
  - into an empty virtual environment, dependencies included (numpy,
    matplotlib, tqdm, koreanize-matplotlib from pip's usual sources, here
    the machine's package caches);
- for scale, the time to make the fresh environment itself (torch and the
  rest, as publish.freshenv does).
"""

import argparse
import statistics
import sys
import tempfile
import time
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from publish import book_version, wheels  # noqa: E402
from publish.freshenv import CONSTRAINTS, FreshEnv  # noqa: E402


def clock(function, *args):
    started = time.perf_counter()
    result = function(*args)
    return time.perf_counter() - started, result


def megabytes(size):
    return f"{size / 1e6:.2f} MB"


def wheel_figures(out):
    built = {}
    for wheel in wheels.WHEELS:
        seconds, path = clock(wheels.build_one, wheel, out)
        with zipfile.ZipFile(path) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
        print(
            f"wheel {path.name}: {megabytes(path.stat().st_size)} "
            f"({megabytes(unpacked)} unpacked), built in {seconds:.1f} s"
        )
        built[wheel.name] = path
    return built


def install_with_dependencies_present(env, folder, repeat):
    """Median seconds of installing seqbook alone, its dependencies there."""
    requirement = f"seqbook=={book_version()}"
    times = []
    for _ in range(repeat):
        seconds, _ = clock(
            env.pip,
            "install",
            "--no-index",
            "--find-links",
            folder,
            requirement,
        )
        times.append(seconds)
        env.pip("uninstall", "--yes", "seqbook")
    return statistics.median(times), times


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="seqbook-packaging-") as tmp:
        tmp = Path(tmp)
        folder = tmp / "wheels"
        wheel_figures(folder)
        seconds, env = clock(FreshEnv.create, tmp / "fresh")
        print(
            f"fresh environment (torch, numpy, matplotlib, tqdm, a "
            f"Jupyter kernel): {seconds:.1f} s"
        )
        median, times = install_with_dependencies_present(
            env, folder, args.repeat
        )
        print(
            f"install seqbook, its dependencies present: {median:.1f} s "
            f"(median of {', '.join(f'{t:.1f}' for t in times)})"
        )
        bare = FreshEnv.create(tmp / "bare", packages=[])
        seconds, _ = clock(
            bare.pip,
            "install",
            "--find-links",
            folder,
            f"seqbook=={book_version()}",
            "-c",
            CONSTRAINTS,
        )
        print(
            f"install seqbook and its dependencies into an empty "
            f"environment: {seconds:.1f} s"
        )


if __name__ == "__main__":
    main()

"""python -m publish: build the student tree (see the package's doc).

python -m publish [--html _build/html] [--out _publish]
python -m publish --install-cells      # after changing VERSION
python -m publish --check-cells        # after changing a test cell
python -m publish --print-repository   # for the workflow
"""

import argparse
import sys
from pathlib import Path

from publish import REPO, check_cell, install_cell, wheels
from publish.config import CONFIG, from_config
from publish.tree import build_tree


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m publish")
    parser.add_argument("--html", type=Path, default=REPO / "_build/html")
    parser.add_argument("--out", type=Path, default=REPO / "_publish")
    parser.add_argument(
        "--config",
        type=Path,
        default=CONFIG,
        help="the book's configuration the site was built with",
    )
    parser.add_argument(
        "--install-cells",
        action="store_true",
        help="write the install cell into every solution notebook "
        "(then run make release)",
    )
    parser.add_argument(
        "--check-cells",
        action="store_true",
        help="write the self-check cell last into every solution notebook "
        "(then run make release)",
    )
    parser.add_argument(
        "--wheels",
        type=Path,
        metavar="DIR",
        help="only build every wheel of publish/wheels.py (the grader's "
        "too) into DIR",
    )
    parser.add_argument("--print-repository", action="store_true")
    parser.add_argument("--print-branch", action="store_true")
    args = parser.parse_args(argv)
    where = from_config(args.config)
    if args.print_repository or args.print_branch:
        value = (
            (where.repository if args.print_repository else where.branch)
            if where
            else ""
        )
        print(value)
        return 0
    if args.wheels:
        for path in wheels.build(args.wheels).values():
            print(f"built {path}")
        return 0
    if args.install_cells:
        for path in install_cell.write_into_solutions():
            print(f"wrote {path.relative_to(REPO)}")
        return 0
    if args.check_cells:
        for path in check_cell.write_into_solutions():
            print(f"wrote {path.relative_to(REPO)}")
        return 0
    built = build_tree(args.html, args.out, args.config)
    print(
        f"The student tree is in {args.out}: the site, the notebooks, "
        f"{', '.join(p.name for p in built.values())}, binder/."
    )
    if where is None:
        print(
            "repository.url is empty in _config.yml: no launch links; "
            "set it to publish (README, Publishing)."
        )
    else:
        print(
            f"Published at {where.repository} ({where.branch}), "
            f"served at {where.site}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

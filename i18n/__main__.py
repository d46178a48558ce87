"""python -m i18n: the Korean edition's commands (see the package's doc).

python -m i18n build [--path-output DIR] [--config FILE]
    the Korean edition into DIR/_build/html/ko (after `jupyter-book build`)
python -m i18n update
    extract the English again and merge it into locale/ko/LC_MESSAGES
python -m i18n check [--summary] [CATALOG...]
    what is untranslated, fuzzy or broken, file by file
python -m i18n release [NAME...]
    the Korean releases, notebooks/ko/<name>/<name>.ipynb
"""

import sys

from i18n import REPO

USAGE = __doc__.split("\n\n", 1)[1]


def update(argv):
    from i18n.catalogs import update

    for line in update():
        print(line)
    print("Translate what is to do, then: python -m i18n check")
    return 0


def release(argv):
    from i18n.notebooks import release

    for path in release(argv or None):
        print(f"wrote {path.relative_to(REPO)}")
    return 0


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE)
        return 0 if argv else 2
    command, rest = argv[0], argv[1:]
    if command == "build":
        from i18n.edition import main as build

        return build(rest)
    if command == "check":
        from i18n.check import main as check

        return check(rest)
    commands = {"update": update, "release": release}
    if command not in commands:
        print(f"unknown command {command!r}\n\n{USAGE}", file=sys.stderr)
        return 2
    return commands[command](rest)


if __name__ == "__main__":
    sys.exit(main())

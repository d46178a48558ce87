"""What the experiment scripts share: their command line (``--quick``,
``--out``, ``--seed``, ``--threads``), the JSON record each one writes
(the results with the command, the date, the versions, the machine, the
settings and the run time), the way a script's ``main`` puts the two
together (``run_script``) and the training options of the character
language models (``train_options``)."""

import argparse
import datetime
import json
import os
import platform
import shlex
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from seqbook.training import TrainOptions  # noqa: E402


def command_line():
    """The command as typed from the repository root, for the record."""
    python = Path(sys.executable)
    try:
        python = python.relative_to(REPO)
    except ValueError:
        python = Path(python.name)
    script = Path(sys.argv[0]).resolve()
    try:
        script = script.relative_to(REPO)
    except ValueError:
        pass
    return shlex.join([str(python), str(script), *sys.argv[1:]])


def arguments(
    description,
    default_out,
    seed_help="seed of the weights and the batch order",
    threads_help="torch threads (1 is fastest for these small tensors)",
    more=None,
):
    """Parse the common options (and those ``more(parser)`` adds); set
    torch's threads. Without ``--out``, a quick run writes to a temporary
    file and a full run to ``default_out``."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--quick",
        action="store_true",
        help="tiny smoke run (seconds); results are meaningless",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help=f"output JSON (default {default_out.relative_to(REPO)}, or a "
        "temporary file with --quick)",
    )
    if more is not None:
        more(parser)
    parser.add_argument("--seed", type=int, default=0, help=seed_help)
    parser.add_argument("--threads", type=int, default=1, help=threads_help)
    args = parser.parse_args()
    if args.out is None:
        quick = Path(tempfile.gettempdir()) / f"{default_out.stem}_quick.json"
        args.out = quick if args.quick else default_out
    torch.set_num_threads(args.threads)
    return args


def write_record(args, settings, total_seconds, **results):
    """Write the run's record to ``args.out``: how it was made, then
    ``results`` (keyword order kept)."""
    record = {
        "command": command_line(),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(
            timespec="seconds"
        ),
        "quick": args.quick,
        "seed": args.seed,
        "threads": args.threads,
        "versions": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "numpy": np.__version__,
        },
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            "cpu_count": os.cpu_count(),
        },
        "settings": settings,
        "total_seconds": round(total_seconds, 1),
        **results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(record, indent=1, ensure_ascii=False) + "\n",
        encoding="utf-8",
    )
    print(f"{total_seconds / 60:.1f} minutes; results written to {args.out}")


def run_script(description, default_out, run, settings, **options):
    """A script's whole ``main``: parse the command line (``arguments``,
    with ``options`` passed on), call ``run(chosen, args)`` with the full
    or, with ``--quick``, the quick settings (``settings`` is the pair
    ``(full, quick)``), and write the record of the run time and of the
    dict of results it returns (their order kept)."""
    args = arguments(description, default_out, **options)
    chosen = settings[1] if args.quick else settings[0]
    start = time.perf_counter()
    results = run(chosen, args)
    write_record(args, chosen, time.perf_counter() - start, **results)


def train_options(settings, **more):
    """The ``TrainOptions`` of a character model whose ``settings`` give
    its steps, window length, batch size, clipping norm and evaluation
    interval; ``more`` sets the others (``lr``, ``seed``, ``desc``)."""
    keys = ("steps", "seq_len", "batch_size", "max_norm", "eval_every")
    return TrainOptions(**{key: settings[key] for key in keys}, **more)

"""Kernels started ahead (autograder/worker/ahead.py), without starting
one: which modules a kernel ahead imports, which job may take it, and
that nbclient takes it once. (Kernels started ahead for real, and what
they keep from one submission to the next: tests/test_isolation.py.)"""

import dataclasses
from pathlib import Path

import nbformat
import pytest

from autograder import course
from autograder.job import Limits
from autograder.worker import ahead, box
from jobs import make_job


def job_of(assignment, tmp_path, **fields):
    folder = Path(tmp_path)
    return make_job(
        "ada",
        assignment=assignment,
        source=str(course.SOLUTIONS),
        notebook=str(folder / "inputs" / "ada.ipynb"),
        workdir=str(folder / "work" / "ada"),
        result=str(folder / "work" / "ada.result.json"),
        master_db=str(folder / "course" / "gradebook.db"),
        feedback=str(folder / "feedback" / "ada.html"),
        **fields,
    )


def test_a_kernel_ahead_imports_what_the_notebook_imports(tmp_path):
    rnn = ahead.preload(job_of("rnn", tmp_path))  # numpy, no torch
    assert "numpy" in rnn and "matplotlib.font_manager" in rnn
    # the course library's modules, by the names the set-up cell uses
    assert {"seqbook.data", "seqbook.plotting", "seqbook.training"} <= set(rnn)
    assert not any(name.startswith("torch") for name in rnn)
    gru = ahead.preload(job_of("gru", tmp_path))
    assert {"numpy", "torch", "torch.fx.experimental.symbolic_shapes"} <= set(
        gru
    )


class FakeManager:
    """Stands for a kernel manager: records its shutdown."""

    def __init__(self, alive=True):
        self.alive, self.shut = alive, False
        process = type("P", (), {"poll": lambda s: None if alive else 1})
        self.provisioner = type("Prov", (), {"process": process(), "pid": 0})

    async def shutdown_kernel(self, now=False):
        self.shut = True

    async def cleanup_resources(self, restart=False):
        pass


def started_ahead(job, tmp_path, alive=True):
    folder = tmp_path / "box-ahead"
    folder.mkdir()
    launch = box.Launch(folder, folder / "judge.sock", None, True, "root")
    kernel = ahead.Ahead(launch, FakeManager(alive), ahead.fit(job, "root"))
    ahead._NEXT["ahead"] = kernel
    return kernel


@pytest.mark.parametrize(
    "change, mode",
    [
        ({"limits": Limits(memory_limit=2**30)}, "root"),  # other limits
        ({"assignment": "gru"}, "root"),  # other modules to import
        ({}, "userns"),  # another sandbox
        ({}, None),  # none
    ],
)
def test_a_kernel_ahead_goes_only_to_a_job_it_fits(tmp_path, change, mode):
    job = job_of("rnn", tmp_path)
    kernel = started_ahead(job, tmp_path)
    other = dataclasses.replace(job, **change)
    assert ahead._take(other, mode) is None
    assert kernel.manager.shut and not kernel.launch.box.exists()
    assert "ahead" not in ahead._NEXT


def test_a_job_that_fits_takes_the_kernel_once(tmp_path):
    job = job_of("rnn", tmp_path)
    kernel = started_ahead(job, tmp_path)
    assert ahead._take(job, "root") is kernel
    assert ahead._take(job, "root") is None  # gone: never a second job
    assert not kernel.manager.shut


def test_a_dead_kernel_ahead_is_not_taken(tmp_path):
    job = job_of("rnn", tmp_path)
    kernel = started_ahead(job, tmp_path, alive=False)
    assert ahead._take(job, "root") is None
    assert not kernel.launch.box.exists()


def test_nbclient_runs_one_notebook_in_the_kernel_handed_to_it():
    from nbclient import NotebookClient

    ahead.take_kernels_ahead()
    manager = FakeManager()
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3"}
    ahead._HANDOFF["manager"] = manager
    first = NotebookClient(notebook)
    assert first.create_kernel_manager() is manager
    second = NotebookClient(notebook)
    assert second.create_kernel_manager() is not manager

"""Intake: what the students handed in, before any kernel starts.

Student ids are folder names of the submissions folder; files and hidden
folders there are not students (:func:`list_students`). Each student's
notebook then goes through :data:`STEPS`, one check each, in order, like
nbgrader's preprocessors: a step returns ``(status, detail)`` to give the
row its status (``missing``, ``invalid_notebook``, ``wrong_assignment``,
``too_large``) or None to pass the notebook on. A notebook that passes
every step is written, outputs removed and upgraded to nbformat 4, as the
copy that is graded. The intake never raises for a bad file: whatever
the bytes, a status or a gradable copy.
"""

import hashlib
import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from autograder import course, notebooks
from autograder.batch import repair

MB = 2**20
# A submitted file larger than this is not even parsed.
MAX_FILE_BYTES = 512 * MB
# The notebook that is graded, outputs removed, may be at most this large.
MAX_NOTEBOOK_BYTES = 50 * MB
MAGIC = {
    b"PK\x03\x04": "a zip archive",
    b"%PDF": "a PDF document",
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
}


@dataclass(frozen=True)
class Submission:
    """One student folder: its id, where its notebook should be, and the
    SHA-256 of that notebook's bytes (None when there is no such file)."""

    student: str
    notebook: Path
    digest: str | None


def list_students(submissions):
    """(student folders, ignored entries) of a submissions folder.

    Student ids are folder names; files and hidden folders (``.git``,
    ``.ipynb_checkpoints``, ``.DS_Store``) are not students."""
    students, ignored = [], []
    for entry in sorted(Path(submissions).iterdir()):
        if entry.name.startswith(".") or not entry.is_dir():
            ignored.append(entry.name)
        else:
            students.append(entry.name)
    return students, ignored


def file_sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(MB), b""):
            digest.update(chunk)
    return digest.hexdigest()


def submission(submissions, student, assignment):
    """The :class:`Submission` of ``student``."""
    notebook = Path(submissions) / student / assignment / f"{assignment}.ipynb"
    digest = file_sha256(notebook) if notebook.is_file() else None
    return Submission(student, notebook, digest)


# -- the steps ---------------------------------------------------------------


@dataclass
class Draft:
    """A submitted notebook on its way through the steps."""

    path: Path
    assignment: str
    source: Path | None = None  # the source notebooks' folder
    size: int = 0
    raw: bytes | None = None
    text: str | None = None
    nb: object = None  # the JSON, once parsed
    major: int = 0  # its nbformat
    stripped: str = ""  # the JSON without outputs
    book: object = None  # nbformat's notebook, version 4
    final: str = ""  # what is graded
    notes: list = field(default_factory=list)


def locate(draft):
    """A file where nbgrader's submitted layout puts the notebook."""
    path = draft.path
    if path.is_dir():
        return ("invalid_notebook", f"{path.name} is a folder, not a file")
    if not path.exists():
        others = other_notebooks(path.parent.parent)
        if others:
            found = ", ".join(others)
            detail = f"no {draft.assignment}/{path.name}; found {found}"
            return ("missing", detail)
        return (
            "missing",
            f"no {draft.assignment}/{path.name} in the submission",
        )
    if not path.is_file():
        return ("invalid_notebook", f"{path.name} is not a regular file")
    return None


def measure(draft):
    """Not empty, and small enough to read."""
    draft.size = draft.path.stat().st_size
    if draft.size == 0:
        return ("invalid_notebook", "the notebook file is empty")
    if draft.size > MAX_FILE_BYTES:
        return (
            "too_large",
            f"the notebook file has {draft.size / MB:.0f} MB; the grader "
            f"reads at most {MAX_FILE_BYTES // MB} MB",
        )
    return None


def read(draft):
    """Bytes that could be text: not blank, not a known binary format,
    not UTF-16."""
    draft.raw = draft.path.read_bytes()
    raw = draft.raw
    if not raw.strip():
        return ("invalid_notebook", "the notebook file is empty")
    for magic, kind in MAGIC.items():
        if raw.startswith(magic):
            return ("invalid_notebook", f"not a notebook: {kind}")
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return (
            "invalid_notebook",
            "the file is UTF-16 text; a notebook is UTF-8 (save it from "
            "Jupyter, not from a text editor)",
        )
    return None


def decode(draft):
    """UTF-8 text (a byte order mark is allowed)."""
    raw, draft.raw = draft.raw, None
    try:
        draft.text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        return (
            "invalid_notebook",
            f"not UTF-8 text (byte 0x{raw[error.start]:02x} at offset "
            f"{error.start}); a notebook saved by Jupyter is UTF-8",
        )
    return None


def parse(draft):
    """JSON."""
    text, draft.text = draft.text, None
    try:
        draft.nb = json.loads(text)
    except json.JSONDecodeError as error:
        return (
            "invalid_notebook",
            f"not JSON ({error.msg} at line {error.lineno} column "
            f"{error.colno}); the file may be cut short or edited by hand",
        )
    except RecursionError:
        return ("invalid_notebook", "not JSON (nested too deeply)")
    return None


def looks_like_notebook(draft):
    """A JSON object with an nbformat this grader reads and cells."""
    nb = draft.nb
    if (
        not isinstance(nb, dict)
        or not isinstance(nb.get("nbformat"), int)
        or not isinstance(nb.get("cells", nb.get("worksheets")), list)
    ):
        return ("invalid_notebook", "JSON, but not a Jupyter notebook")
    draft.major = nb["nbformat"]
    if draft.major > 4:
        return (
            "invalid_notebook",
            f"nbformat {draft.major} is newer than the grader reads (4)",
        )
    return None


def strip_outputs(draft):
    """Every output removed (nbformat 3 or 4): outputs are never needed to
    grade, nbgrader runs the notebook again."""
    nb, draft.nb = draft.nb, None
    cells = list(nb.get("cells") or [])
    for sheet in nb.get("worksheets") or []:
        if isinstance(sheet, dict):
            cells += sheet.get("cells") or []
    for cell in cells:
        if isinstance(cell, dict) and cell.get("cell_type") == "code":
            cell["outputs"] = []
            if "execution_count" in cell:
                cell["execution_count"] = None
            if "prompt_number" in cell:
                del cell["prompt_number"]
    draft.stripped = json.dumps(nb)
    removed = draft.size - len(draft.stripped)
    if removed > MB:
        draft.notes.append(
            f"its outputs ({removed / MB:.0f} MB) were removed before grading"
        )
    return None


def validate(draft):
    """A valid notebook of its nbformat, upgraded to version 4."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            draft.book = nbformat.reads(draft.stripped, as_version=4)
            nbformat.validate(draft.book)
    except Exception as error:
        reason = str(error).splitlines()[0][:200] if str(error) else ""
        return (
            "invalid_notebook",
            f"not a valid notebook of nbformat {draft.major} "
            f"({type(error).__name__}: {reason})",
        )
    draft.stripped = ""
    if draft.major < 4:
        draft.notes.append(f"upgraded from nbformat {draft.major} to 4")
    return None


def belongs(draft):
    """The notebook holds cells that only this assignment's source has."""
    ids = notebooks.grade_ids(draft.book.cells)
    if ids & own_ids(draft.assignment, draft.source):
        return None
    other = foreign(ids, draft.assignment, draft.source)
    return (
        "wrong_assignment",
        f"this is the notebook of {other}, not of {draft.assignment}"
        if other
        else f"none of {draft.assignment}'s cells are in this notebook "
        "(it was not made from the released notebook)",
    )


def restore(draft):
    """The instructor's cells, each once, by grade id; cells whose claims
    cannot stand dropped or made ordinary (:mod:`autograder.batch.repair`);
    what was changed goes into a note at the top and the row's detail."""
    source = notebooks.read_source(draft.assignment, draft.source)
    cells, notes = repair.repair(draft.book.cells, repair.source_cells(source))
    kernel = (draft.book.metadata.get("kernelspec") or {}).get("name")
    if kernel not in (None, "python3"):
        notes.append(f"it named the kernel {kernel!r}: run with Python 3")
    draft.book.metadata["kernelspec"] = dict(repair.KERNELSPEC)
    if notes:
        cells.insert(0, repair.note_cell(notes))
        draft.notes.append(
            "the grader repaired the notebook: " + "; ".join(notes)
        )
    if draft.book.get("nbformat_minor", 0) < 5:
        for cell in cells:
            cell.pop("id", None)
    draft.book.cells = [nbformat.from_dict(cell) for cell in cells]
    return None


def fits(draft):
    """Small enough to grade, outputs removed."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        draft.final = nbformat.writes(draft.book, version=4)
    if len(draft.final.encode("utf-8")) > MAX_NOTEBOOK_BYTES:
        return (
            "too_large",
            f"the notebook has {len(draft.final) / MB:.0f} MB without its "
            f"outputs; the grader takes at most "
            f"{MAX_NOTEBOOK_BYTES // MB} MB",
        )
    return None


STEPS = [
    locate,
    measure,
    read,
    decode,
    parse,
    looks_like_notebook,
    strip_outputs,
    validate,
    belongs,
    restore,
    fits,
]


def prepare_notebook(path, assignment, dest=None, source=None):
    """Check a submitted notebook and write a gradable copy to ``dest``.

    Returns ``(status, detail)``: status None when the notebook can be
    graded (detail then says what was changed, if anything: an upgrade
    from an old format, large outputs removed), else the row's status:
    ``missing``, ``invalid_notebook``, ``wrong_assignment`` or
    ``too_large``. Never raises for a bad file.
    """
    draft = Draft(Path(path), assignment, source)
    for step in STEPS:
        refused = step(draft)
        if refused:
            return refused
    if dest is not None:
        Path(dest).parent.mkdir(parents=True, exist_ok=True)
        Path(dest).write_text(draft.final, encoding="utf-8")
    return (None, "; ".join(draft.notes))


# -- whose notebook is it ----------------------------------------------------


def other_notebooks(student_dir, limit=5):
    """Notebooks a student submitted under another name or place."""
    if not student_dir.is_dir():
        return []
    found = sorted(
        str(p.relative_to(student_dir))
        for p in student_dir.rglob("*.ipynb")
        if ".ipynb_checkpoints" not in p.parts
    )
    if len(found) > limit:
        found = found[:limit] + [f"and {len(found) - limit} more"]
    return found


def own_ids(assignment, source=None):
    """grade_ids that only this assignment's source has (not ``setup``)."""
    others = set()
    for other in course.assignments(source):
        if other != assignment:
            others |= notebooks.source_ids(other, source)
    return notebooks.source_ids(assignment, source) - others


def foreign(ids, assignment, source=None):
    """The assignment whose cells a notebook holds, if not ``assignment``."""
    best, overlap = None, 0
    for other in course.assignments(source):
        if other == assignment:
            continue
        common = len(ids & own_ids(other, source))
        if common > overlap:
            best, overlap = other, common
    return best

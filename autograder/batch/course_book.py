"""Results into an instructor's own nbgrader course (``grade --course``).

The class is graded as always (parallel workers, the journal, the CSV);
each result then goes where nbgrader's own ``autograde`` would put it:
the autograded notebook into the course's ``autograded/`` folder, and
the points into the course's gradebook (its ``db_url``, as its
``nbgrader_config.py`` says), through nbgrader's own steps:
``SaveAutoGrades`` (comments, the manual-grading flags), the points the
grader decided, then ``AssignLatePenalties`` with the course's
late-submission plugin, fed by ``timestamp.txt`` as ``nbgrader collect``
writes it. So formgrader, ``generate_feedback``, ``release_feedback``
and ``export`` work on the results. A manual score given in formgrader
stays, unless the command says ``--regrade``.
"""

import shutil
import sys
from pathlib import Path

import nbformat
from jupyter_core.paths import jupyter_config_path
from nbgrader.api import Gradebook, MissingEntry
from nbgrader.coursedir import CourseDirectory
from nbgrader.preprocessors import AssignLatePenalties, SaveAutoGrades
from nbgrader.utils import find_all_files
from sqlalchemy.engine import make_url
from traitlets.config import Config
from traitlets.config.loader import PyFileConfigLoader

CONFIG_FILE = "nbgrader_config.py"


def course_config(root):
    """nbgrader's configuration of the course at ``root``: the
    ``nbgrader_config.py`` files of Jupyter's config path, then the
    course's own; the course folder is ``root``."""
    config = Config()
    for folder in [*reversed(jupyter_config_path()), str(root)]:
        if (Path(folder) / CONFIG_FILE).is_file():
            loader = PyFileConfigLoader(CONFIG_FILE, path=str(folder))
            config.merge(loader.load_config())
    config.CourseDirectory.root = str(Path(root).resolve())
    return config


def course_folders(root, assignment):
    """(submissions folder, source folder) of the course at ``root``, as
    its configuration names them; refused when the course's layout is not
    nbgrader's default (``<step>/<student>/<assignment>``)."""
    coursedir = CourseDirectory(config=course_config(root))
    if (
        coursedir.directory_structure
        != "{nbgrader_step}/{student_id}/{assignment_id}"
    ):
        raise ValueError(
            f"the course {root} has directory_structure "
            f"{coursedir.directory_structure!r}; the grader reads nbgrader's "
            "default layout"
        )
    base = Path(coursedir.root)
    return (
        base / coursedir.submitted_directory,
        base / coursedir.source_directory,
    )


def shown_url(db_url):
    """A gradebook's URL without its password (a database server's URL
    may hold one), to print."""
    return make_url(db_url).render_as_string(hide_password=True)


class CourseBook:
    """The course's gradebook and folders, as results arrive."""

    def __init__(self, root, assignment, regrade=False):
        self.config = course_config(root)
        self.coursedir = CourseDirectory(config=self.config)
        self.assignment = assignment
        self.regrade = regrade
        with self._gradebook() as gb:
            try:
                gb.find_assignment(assignment)
            except MissingEntry:
                raise ValueError(
                    f"the gradebook of {root} ({self.shown_url}) has "
                    f"no assignment {assignment!r}: run `nbgrader "
                    f"generate_assignment {assignment}` in the course first"
                ) from None

    def _gradebook(self):
        return Gradebook(self.coursedir.db_url, self.coursedir.course_id)

    @property
    def shown_url(self):
        """The gradebook's ``db_url`` as printed."""
        return shown_url(self.coursedir.db_url)

    def _folder(self, step, student):
        return Path(self.coursedir.format_path(step, student, self.assignment))

    def notebook_path(self, student):
        """Where nbgrader keeps the autograded notebook of ``student``."""
        folder = self._folder(self.coursedir.autograded_directory, student)
        return folder / f"{self.assignment}.ipynb"

    def finish(self, record, outcome):
        """Put one result into the course; returns what the journal keeps
        of it (where its autograded notebook is, or the error)."""
        student = record["student_id"]
        try:
            kept = self._place_notebook(student, outcome.get("autograded"))
            self._save(record, kept)
        except Exception as error:  # the batch goes on; retried next run
            print(
                f"warning: {student}'s result is not in the course's "
                f"gradebook ({type(error).__name__}: {error}); the next "
                "run tries again",
                file=sys.stderr,
            )
            return {"course_error": f"{type(error).__name__}: {error}"}
        root = Path(self.coursedir.root)
        return {
            "course_notebook": str(kept.relative_to(root)) if kept else None
        }

    def holds(self, record):
        """Whether the course still holds a journalled result: its points
        in the gradebook and its autograded notebook where nbgrader keeps
        it."""
        if "course_notebook" not in record:
            return False
        kept = record["course_notebook"]
        if kept and not (Path(self.coursedir.root) / kept).is_file():
            return False
        try:
            with self._gradebook() as gb:
                nb = gb.find_submission_notebook(
                    self.assignment, self.assignment, record["student_id"]
                )
                auto = {g.name: g.auto_score for g in nb.grades}
        except MissingEntry:
            return False
        cells = record.get("cells", {})
        return all(auto.get(name) == points for name, points in cells.items())

    def _place_notebook(self, student, autograded):
        """The autograded notebook where nbgrader puts it, with the other
        files of the submission (``timestamp.txt``, ``submission_secret.txt``)
        and of the assignment's source folder, as nbgrader copies them; a
        result without one removes a stale one. Returns its path, or
        None."""
        target = self.notebook_path(student)
        if not autograded or not Path(autograded).is_file():
            target.unlink(missing_ok=True)
            return None
        target.parent.mkdir(parents=True, exist_ok=True)
        submitted = self._folder(self.coursedir.submitted_directory, student)
        source = self._folder(self.coursedir.source_directory, ".")
        for folder in (submitted, source):
            self._copy_files(folder, target.parent)
        target.unlink(missing_ok=True)  # nbgrader leaves it read-only
        shutil.copy(autograded, target)
        return target

    def _copy_files(self, folder, dest):
        """The files of ``folder`` but notebooks and nbgrader's ignored
        ones, into ``dest``."""
        skip = [*self.coursedir.ignore, "*.ipynb"]
        for path in map(Path, find_all_files(str(folder), skip)):
            copy = dest / path.relative_to(folder)
            copy.parent.mkdir(parents=True, exist_ok=True)
            copy.unlink(missing_ok=True)
            shutil.copy(path, copy)

    def _save(self, record, kept):
        """The gradebook, as nbgrader's autograde leaves it, with the
        grader's points."""
        student = record["student_id"]
        submitted = self._folder(self.coursedir.submitted_directory, student)
        timestamp = self.coursedir.get_existing_timestamp(str(submitted))
        with self._gradebook() as gb:
            gb.update_or_create_student(student)
            extra = {"timestamp": timestamp} if timestamp else {}
            gb.update_or_create_submission(self.assignment, student, **extra)
        resources = {
            "nbgrader": {
                "notebook": self.assignment,
                "assignment": self.assignment,
                "student": student,
                "db_url": self.coursedir.db_url,
            }
        }
        nb = nbformat.read(kept, as_version=4) if kept else None
        if self.regrade:
            self._forget_manual_scores(student)
        if nb is not None:
            SaveAutoGrades(config=self.config).preprocess(nb, resources)
        self._set_points(student, record.get("cells", {}))
        late = AssignLatePenalties(config=self.config)
        late.preprocess(nb or nbformat.v4.new_notebook(), resources)

    def _submission_notebook(self, gb, student):
        return gb.find_submission_notebook(
            self.assignment, self.assignment, student
        )

    def _set_points(self, student, cells):
        """The grader's points as the autograder's scores (a grade with a
        manual score keeps it, and is flagged for review, as nbgrader's
        SaveAutoGrades does)."""
        with self._gradebook() as gb:
            for grade in self._submission_notebook(gb, student).grades:
                if grade.name in cells:
                    grade.auto_score = float(cells[grade.name])
                    grade.needs_manual_grade = grade.manual_score is not None
            gb.db.commit()

    def _forget_manual_scores(self, student):
        with self._gradebook() as gb:
            for grade in self._submission_notebook(gb, student).grades:
                grade.manual_score = None
            gb.db.commit()

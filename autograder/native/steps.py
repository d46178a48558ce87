"""Two steps of ours in nbgrader's pipelines: the judge's verdicts in
the gradebook, and the hidden tests kept out of what students see.

Both call the grader worker's own verdict logic
(:mod:`autograder.worker.verdicts`) on the notebook nbgrader passes
along, so that both ways of grading score and show a submission alike.
"""

from nbgrader.api import Gradebook
from nbgrader.preprocessors import NbGraderPreprocessor

from autograder.worker import verdicts


class ApplyVerdicts(NbGraderPreprocessor):
    """After ``SaveAutoGrades``: each test cell nbgrader passed but the
    judge did not (or never saw: without :class:`JudgedExecute` before it,
    none) scores 0 in the gradebook, and its output says why. A manual
    score given in formgrader stays as it is (nbgrader's rule)."""

    def preprocess(self, nb, resources):
        info = resources["nbgrader"]
        judged = resources.get("autograder", {}).get("verdicts", {})
        with Gradebook(info["db_url"]) as gb:
            notebook = gb.find_submission_notebook(
                info["notebook"], info["assignment"], info["student"]
            )
            overruled = verdicts.overrule(notebook.grades, judged)
            gb.db.commit()
        verdicts.note_overruled(nb.cells, overruled)
        if overruled:
            self.log.warning(
                "%s/%s: the judge failed %s",
                info["student"],
                info["assignment"],
                ", ".join(sorted(overruled)),
            )
        return nb, resources


class HideHiddenTests(NbGraderPreprocessor):
    """The test cells without their hidden tests, their stderr and their
    tracebacks (an error keeps its name and message): last in
    ``autograde`` (the autograded notebook) and in ``generate_feedback``
    (the feedback page)."""

    def preprocess(self, nb, resources):
        verdicts.sanitize_cells(nb.cells)
        return nb, resources

"""The course's grading tools, built on nbgrader.

``python -m autograder release`` generates the student notebooks in
``notebooks/`` from the sources in ``solutions/``;
``python -m autograder grade ASSIGNMENT SUBMISSIONS_DIR --out CSV`` grades a
class. nbgrader's course folder and gradebook live in ``autograder/_course``
and the per-submission work folders in ``autograder/_grading`` (neither is
committed).
"""

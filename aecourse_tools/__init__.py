"""Authoring tools of the course, apart from the learners' library ``course_lib``.

``aecourse`` (``cli``) runs the notebooks headless (``runner``) while measuring memory
and CPU speed (``monitors``), writes the results report (``report``), and keeps the
Colab/Binder cells of every notebook in step (``hosting``).
"""

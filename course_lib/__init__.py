"""Helper library of the autoencoder course.

Importing it does nothing: no seeding, no folders made, no plot settings.
Use the submodules: ``config``, ``data``, ``models``, ``training`` (and its weights
``cache``), ``corruptions``, ``scenes``, ``baselines``, ``metrics``, ``plotting``,
``widgets``, ``report``. The ``aecourse`` command's tools live apart, in ``aecourse_tools``.
"""

__version__ = "0.1.0"

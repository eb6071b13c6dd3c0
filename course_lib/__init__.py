"""Helper library of the autoencoder course.

Importing it does nothing: no seeding, no folders made, no plot settings.
Use the submodules: ``config``, ``data``, ``models``, ``training``,
``baselines``, ``metrics``, ``plotting``, ``widgets``, ``report``.
"""

__version__ = "0.1.0"

"""The version of skspectral: the one place it is written.

``pyproject.toml`` reads it (``[tool.setuptools.dynamic]``), so the installed
metadata (``importlib.metadata.version("skspectral")``) and
``skspectral.__version__`` agree.
"""

__version__ = "0.2.0.dev0"

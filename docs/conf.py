"""Sphinx configuration for skspectral."""

import os
import warnings

project = "skspectral"
author = "skspectral developers"
copyright = "2026, skspectral developers"

import skspectral

version = release = skspectral.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]

autosummary_generate = True
autodoc_default_options = {"members": True, "inherited-members": False}
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
templates_path = ["_templates"]
exclude_patterns = ["_build", "**.ipynb_checkpoints", "auto_examples/*.ipynb", "auto_examples/*.py"]

html_theme = "pydata_sphinx_theme"
html_title = "skspectral"

# Offline builds: no inventories are fetched, so cross-references to other
# projects render as plain text instead of failing the -W build.
intersphinx_mapping = {}

warnings.filterwarnings("ignore", category=UserWarning, message="Matplotlib is currently using agg")

sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "plot_gallery": os.environ.get("SKSPECTRAL_DOCS_PLOT", "True"),
    "download_all_examples": False,
    "remove_config_comments": True,
    "within_subsection_order": "FileNameSortKey",
}

nitpicky = False


def _skip_metadata_request_methods(app, what, name, obj, skip, options):
    # scikit-learn generates set_*_request methods on every estimator; they
    # document metadata routing, not this library, and their docstrings link
    # to scikit-learn's own glossary.
    if name.startswith("set_") and name.endswith("_request"):
        return True
    return skip


def setup(app):
    app.connect("autodoc-skip-member", _skip_metadata_request_methods)

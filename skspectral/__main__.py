"""``python -m skspectral``: the same as the ``skspectral`` console script."""

from ._cli import main

if __name__ == "__main__":
    raise SystemExit(main())

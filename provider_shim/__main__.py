"""Entry point Terraform executes: ``python -m provider_shim``."""

import sys

from provider_shim.plugin import serve


def main() -> None:
    sys.exit(serve())


if __name__ == "__main__":
    main()

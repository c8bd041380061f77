"""`python -m bench [all | write_path dataset api ws reconnect deploy nodes] [--size smoke|full]`."""

import sys

from bench.run_all import main

if __name__ == "__main__":
    sys.exit(main())

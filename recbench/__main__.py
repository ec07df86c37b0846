import sys

from recbench.cli import main

sys.exit(main())

import sys

from sketch2idol.cli import main

sys.exit(main())

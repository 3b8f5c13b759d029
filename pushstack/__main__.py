import sys

from pushstack.cli import main

sys.exit(main())

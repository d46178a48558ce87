import sys

from autograder.worker.loop import main

sys.exit(main())

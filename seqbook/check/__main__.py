"""python -m seqbook.check PATH/TO/rnn.ipynb"""

import sys

from seqbook.check.report import main

sys.exit(main())

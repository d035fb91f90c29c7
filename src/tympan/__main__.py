"""``python -m tympan``: the same as the ``tympan`` command (and what ``torchrun -m tympan`` runs)."""

import sys

from .cli import main

sys.exit(main())

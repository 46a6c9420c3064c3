"""``python -m ttsctl``: the same as the installed ``ttsctl`` command."""

import sys

from ttsctl import main

sys.exit(main())

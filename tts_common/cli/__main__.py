"""``python -m tts_common.cli``: the same as the installed ``ttsctl`` command."""

import sys

from tts_common.cli import main

sys.exit(main())

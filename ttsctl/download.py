"""``ttsctl download``: a thin wrapper around ModelScope's hub client.

Only operators with network access run this; the services never download anything.
The hub client is an optional dependency (``requirements/download.txt``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tts_common.modeldir import list_voices


def run(args: argparse.Namespace) -> int:
    try:
        from modelscope.hub.snapshot_download import snapshot_download
    except ImportError:
        print(
            "ttsctl download needs the ModelScope hub client: "
            "pip install -r requirements/download.txt",
            file=sys.stderr,
        )
        return 2
    target = Path(args.to)
    target.mkdir(parents=True, exist_ok=True)
    path = snapshot_download(
        args.model_id, revision=args.revision, local_dir=str(target)
    )
    voices = list_voices(path)  # fails loudly if the layout is not what we load
    print(f"downloaded {args.model_id} to {path}; voices: {', '.join(voices)}")
    return 0

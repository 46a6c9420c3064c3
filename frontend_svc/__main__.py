"""``python -m frontend_svc``: build the text frontend, warm up, serve until SIGTERM."""

import os

# The polyphone model's small matmuls run one per worker thread; OpenBLAS's own
# thread team per call only adds contention (measured: 100k characters took 4-9 s
# of CPU with the default, 2.5 s with one thread). Set before numpy loads.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import asyncio

from frontend_svc.config import FrontendConfig, frontend_revision
from frontend_svc.frontend import Frontend
from frontend_svc.servicer import FrontendServicer
from tts_common.executor import BoundedExecutor
from tts_common.logging import configure_logging
from tts_common.metrics import Metrics
from tts_common.server import serve


async def main() -> None:
    """Read ``FRONTEND_*`` settings, build one frontend per worker and serve."""
    cfg = FrontendConfig.from_env(os.environ)
    srv, rev = cfg.server, frontend_revision(cfg.lexicon_path)
    configure_logging("frontend", srv.log_level, srv.log_format)
    pool = [Frontend(cfg.lexicon_path) for _ in range(srv.max_workers)]
    executor = BoundedExecutor(srv.max_workers, srv.max_queue, "frontend")
    limit, voices = cfg.max_text_chars, cfg.voice_infos(rev)
    servicer = FrontendServicer(
        pool,
        executor,
        revision=rev,
        max_text_chars=limit,
        voices=voices,
        no_english=cfg.voices_without_english(),
    )
    metrics = Metrics("frontend")
    metrics.set_models({v.name: rev for v in voices})
    await serve(
        srv,
        servicer.register,
        metrics,
        warmup=servicer.warm_up,
        on_close=executor.close,
        queue=executor,
    )


if __name__ == "__main__":
    asyncio.run(main())

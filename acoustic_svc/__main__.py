"""``python -m acoustic_svc``: load the voices, warm up, serve until SIGTERM."""

import asyncio
import os

import torch

from acoustic_svc import load_acoustic_model
from acoustic_svc.batcher import build_batchers
from acoustic_svc.config import AcousticConfig
from acoustic_svc.servicer import AcousticServicer
from tts_common.executor import BoundedExecutor
from tts_common.logging import configure_logging
from tts_common.metrics import Metrics
from tts_common.server import serve


async def main() -> None:
    """Read ``ACOUSTIC_*`` settings, load every configured voice and serve."""
    cfg = AcousticConfig.from_env(os.environ)
    srv, metrics = cfg.server, Metrics("acoustic")
    configure_logging("acoustic", srv.log_level, srv.log_format)
    torch.set_num_threads(cfg.intra_op_threads(torch.get_num_threads()))
    names = cfg.voice_names()
    models = {v: load_acoustic_model(cfg.model_dir, v, cfg.device) for v in names}
    metrics.set_models({v: m.revision for v, m in models.items()})
    executor = BoundedExecutor(srv.max_workers, srv.max_queue, "acoustic")
    batchers = build_batchers(
        models, executor, cfg.max_batch, cfg.batch_wait_s, metrics
    )
    servicer = AcousticServicer(batchers, executor, chunk_steps=cfg.chunk_steps)
    await serve(
        srv,
        servicer.register,
        metrics,
        warmup=servicer.warm_up,
        on_close=servicer.close,
        queue=executor,
    )


if __name__ == "__main__":
    asyncio.run(main())

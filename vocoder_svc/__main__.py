"""``python -m vocoder_svc``: load the vocoders, warm up, serve until SIGTERM."""

import asyncio
import os

import torch

from tts_common.executor import BoundedExecutor
from tts_common.logging import configure_logging
from tts_common.metrics import Metrics
from tts_common.server import serve
from vocoder_svc.batcher import build_batchers
from vocoder_svc.config import VocoderConfig
from vocoder_svc.loading import load_vocoder
from vocoder_svc.servicer import VocoderServicer


async def main() -> None:
    """Read ``VOCODER_*`` settings, load every configured voice and serve."""
    cfg = VocoderConfig.from_env(os.environ)
    srv, metrics = cfg.server, Metrics("vocoder")
    configure_logging("vocoder", srv.log_level, srv.log_format)
    torch.set_num_threads(cfg.intra_op_threads(torch.get_num_threads()))
    names = cfg.voice_names()
    voc = {v: load_vocoder(cfg.model_dir, v, cfg.device, cfg.dtype) for v in names}
    metrics.set_models({v: m.revision for v, m in voc.items()})
    executor = BoundedExecutor(srv.max_workers, srv.max_queue, "vocoder")
    batchers = build_batchers(voc, executor, cfg.max_batch, cfg.max_wait_s, metrics)
    servicer = VocoderServicer(batchers, executor)
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

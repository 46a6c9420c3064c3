"""The HiFi-GAN generators in pure torch (inference form, weight norm folded).

:mod:`~vocoder_svc.nn.layers` holds the shared layers and receptive-field
arithmetic; :mod:`~vocoder_svc.nn.kantts_hifigan` and
:mod:`~vocoder_svc.nn.classic_hifigan` the two generator layouts.
"""

__all__: list[str] = []

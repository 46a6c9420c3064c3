"""Mandarin text frontend service: text -> KAN-TTS symbol strings (replaces ttsfrd).

``import frontend_svc`` is cheap: the dictionaries and models load when a
:class:`Frontend` is constructed. House text-normalization conventions are written
down in ``CONVENTIONS.md`` next to this file.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from frontend_svc.frontend import Frontend, Sentence

__all__ = ["Frontend", "Sentence"]


def __getattr__(name: str) -> Any:
    # Lazy so that importing the package (e.g. for the servicer's types) stays cheap.
    if name in __all__:
        from frontend_svc import frontend

        return getattr(frontend, name)
    raise AttributeError(f"module 'frontend_svc' has no attribute {name!r}")

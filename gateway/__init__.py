"""The public gateway: validates requests and runs them through the stages."""

from gateway.config import GatewayConfig

__all__ = ["GatewayConfig"]

"""Re-exports for convenience."""
from .base import *  # noqa: F401,F403
from .messages import Order, Invoice  # noqa: F401

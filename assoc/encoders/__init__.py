"""Frame encoders behind one small interface, built by name through a registry."""

from assoc.encoders.base import FrameEncoderBase, load_encoder
from assoc.encoders.registry import create_encoder, list_encoders

__all__ = ["FrameEncoderBase", "create_encoder", "list_encoders", "load_encoder"]

"""The version of this package: always the version of the C library it was released with
(ULM_VERSION_STRING of include/ultrallm/ultrallm.h; a test holds the two equal)."""

__version__ = "0.1.0"

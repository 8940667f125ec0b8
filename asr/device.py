"""Device "auto": the GPU when one is usable, else the CPU."""


def torch_device(device: str = "auto") -> str:
    if device != "auto":
        return device
    try:
        import torch
        return "cuda" if torch.cuda.is_available() else "cpu"
    except ImportError:
        return "cpu"


def ctranslate2_device(device: str = "auto") -> str:
    if device != "auto":
        return device
    import ctranslate2
    return "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"


def compute_type(device: str, requested: str = "auto") -> str:
    """int8 on the CPU (fastest there), float16 on a GPU."""
    if requested != "auto":
        return requested
    return "float16" if device == "cuda" else "int8"


def onnx_options(threads: int = 0):
    """onnxruntime session options for models that share the CPU with others (Whisper, other
    calls): the pool's threads sleep when idle instead of spinning, so a session waiting for its
    next request does not hold a core away from the rest (ORT spins by default)."""
    import onnxruntime
    opts = onnxruntime.SessionOptions()
    if threads:
        opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    opts.add_session_config_entry("session.inter_op.allow_spinning", "0")
    return opts

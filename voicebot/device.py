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

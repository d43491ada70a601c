"""Dynamic int8 quantisation of a trained model's Linear layers, for CPU inference, stored as plain tensors.

Each ``nn.Linear`` becomes an :class:`Int8Linear`: its weight is rounded to int8 per output channel
(symmetric, zero point 0, scale = the channel's largest |w| / 127) and its input is quantised per call
(dynamic quantisation). What a checkpoint holds is the int8 weight, the float scales and the float bias:
ordinary tensors that safetensors stores as they are, so a quantised run is saved and loaded like any
other, without pickle.

The arithmetic runs on PyTorch's own dynamic-quantised Linear kernel (``torch.ao.nn.quantized.dynamic
.Linear``, the module ``torch.ao.quantization.quantize_dynamic`` installs; fbgemm / x86 / qnnpack engines),
rebuilt from the stored tensors on first use. torch.ao.quantization is deprecated in favour of torchao
(not installed here, and its CPU path is not its focus), so where that kernel is gone or the input is not
on the CPU, the layer falls back to multiplying by its dequantised weight: same stored model, same
scores up to rounding, no speed-up.
"""

from __future__ import annotations

import warnings

import torch
import torch.nn.functional as F
from torch import nn

SCHEME = "dynamic-int8"


class Int8Linear(nn.Module):
    """A Linear layer with an int8 weight (per output channel) and float scales and bias, for inference."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True):
        super().__init__()
        self.in_features, self.out_features = int(in_features), int(out_features)
        self.register_buffer("weight_int8", torch.zeros(out_features, in_features, dtype=torch.int8))
        self.register_buffer("weight_scale", torch.ones(out_features))
        self.register_buffer("bias", torch.zeros(out_features) if bias else None)
        self._forget_kernel()

    @classmethod
    def from_linear(cls, linear: nn.Linear) -> "Int8Linear":
        layer = cls(linear.in_features, linear.out_features, bias=linear.bias is not None)
        with torch.no_grad():
            weight = linear.weight.detach().float().cpu()
            scale = (weight.abs().amax(dim=1) / 127.0).clamp(min=1e-12)
            layer.weight_int8.copy_(torch.round(weight / scale[:, None]).clamp(-127, 127).to(torch.int8))
            layer.weight_scale.copy_(scale)
            if linear.bias is not None:
                layer.bias.copy_(linear.bias.detach().float().cpu())
        return layer.to(linear.weight.device)

    def dequantised_weight(self) -> torch.Tensor:
        return self.weight_int8.float() * self.weight_scale[:, None]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.device.type == "cpu" and x.dtype == torch.float32:
            kernel = self._kernel()
            if kernel is not None:
                shape = x.shape
                return kernel(x.reshape(-1, shape[-1])).reshape(*shape[:-1], self.out_features)
        weight = self.dequantised_weight().to(x.dtype)
        return F.linear(x, weight, None if self.bias is None else self.bias.to(x.dtype))

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}, int8"

    # the packed kernel is derived from the buffers: never saved, rebuilt after a load or a move
    def _forget_kernel(self) -> None:
        self.__dict__["_packed"] = None  # not registered as a submodule: it must not reach state_dict

    def _kernel(self):
        if self.__dict__["_packed"] is None:
            self.__dict__["_packed"] = _build_kernel(self) or False
        return self.__dict__["_packed"] or None

    def _load_from_state_dict(self, *args, **kwargs):
        super()._load_from_state_dict(*args, **kwargs)
        self._forget_kernel()

    def _apply(self, fn, *args, **kwargs):
        self._forget_kernel()
        return super()._apply(fn, *args, **kwargs)


def _build_kernel(layer: Int8Linear):
    """PyTorch's dynamic-quantised Linear holding ``layer``'s int8 weight, or None where unavailable."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch.ao.quantization's deprecation notice, once per layer
            from torch.ao.nn.quantized.dynamic import Linear as DynamicLinear

            kernel = DynamicLinear(layer.in_features, layer.out_features, bias_=layer.bias is not None,
                                   dtype=torch.qint8)
            weight = torch._make_per_channel_quantized_tensor(
                layer.weight_int8.cpu(), layer.weight_scale.cpu().double(),
                torch.zeros(layer.out_features, dtype=torch.long), 0)
            kernel.set_weight_bias(weight, None if layer.bias is None else layer.bias.cpu())
            kernel(torch.zeros(1, layer.in_features))  # fails here, not mid-ranking, on an engine without it
            return kernel
    except Exception:  # no quantised engine / API removed: the dequantised fallback does the work
        return None


def quantise_linear_layers(model: nn.Module) -> list[str]:
    """Replace every ``nn.Linear`` in ``model`` by an :class:`Int8Linear` in place; returns their names."""
    names = [name for name, module in model.named_modules() if type(module) is nn.Linear]
    for name in names:
        _replace(model, name, Int8Linear.from_linear(model.get_submodule(name)))
    return names


def int8_shells(model: nn.Module, names: list[str]) -> None:
    """Put empty :class:`Int8Linear` layers where a quantised checkpoint has them (its tensors load next)."""
    for name in names:
        try:
            linear = model.get_submodule(name)
        except AttributeError:
            linear = None
        if not isinstance(linear, nn.Linear):
            from recstudio.errors import RecStudioError

            raise RecStudioError(f"The quantised checkpoint names a layer {name!r} the model does not have as a "
                                 "Linear layer; quantise the run again with this version of RecStudio.")
        _replace(model, name, Int8Linear(linear.in_features, linear.out_features, bias=linear.bias is not None))


def _replace(model: nn.Module, name: str, layer: nn.Module) -> None:
    parent_name, _, child = name.rpartition(".")
    setattr(model.get_submodule(parent_name) if parent_name else model, child, layer)


def count_parameters(model: nn.Module) -> int:
    """Learned weights: float parameters plus int8 weights (a quantised copy counts as many as its original)."""
    count = sum(p.numel() for p in model.parameters())
    count += sum(m.weight_int8.numel() + (m.bias.numel() if m.bias is not None else 0)
                 for m in model.modules() if isinstance(m, Int8Linear))
    return int(count)

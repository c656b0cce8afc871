"""Frontends: PyTorch and ONNX models to MLIR text (internal modules; the
public entry points are qat_mlir.export, qat_mlir.import_qat and
qat_mlir.import_onnx).

    pytorch.py  export(): torch.fx tracing with the make_fx fallback
    fx.py       the torch.fx exporter: tracing, the Exporter base class, the
                handlers of the supported modules and functions
    aten.py     the make_fx fallback (ATen ops), an Exporter subclass
    qat.py      import_qat: PyTorch prepare_qat / prepare_qat_fx models
    onnx.py     import_onnx: ONNX graphs, QDQ pairs as fake quantization

All of them write MLIR through qat_mlir.writer.
"""

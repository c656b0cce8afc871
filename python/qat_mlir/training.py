"""QAT training in the compiler (docs/Training.md), from Python.

    t = Trainer(float_mlir, target="x86", optimizer="sgd", momentum=0.9)
    loss, correct = t.step(x, labels, lr=0.01)   # compiled forward, backward, update
    logits = t.evaluate(x)                       # observers frozen
    state = t.state_dict(); t.load_state_dict(state)
    int8 = t.convert()                           # MLIR text of the int8 model

The step is compiled once (qat-prepare, qat-make-trainable,
qat-generate-train-step, then the in-process runtime); parameters, optimizer
state and observer ranges stay in the compiled module's memory between
steps.

For a PyTorch training loop (torch.optim, your loss):

    model = prepare_qat(net, example_input, target="x86")   # a torch.nn.Module
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss = F.cross_entropy(model(x), y); loss.backward(); opt.step()
    int8 = model.convert()

forward and backward are the compiled @main_forward / @main_backward (a
torch.autograd.Function) reading the torch Parameters in place.
"""
import re

import numpy as np

from . import passes
from .runtime import compile as _compile

# A symbol name is printed quoted when it is not an identifier (@"9_weight":
# the exporter names layers after PyTorch's modules, nn.Sequential's "9").
_GLOBAL_RE = re.compile(r'^(\s*ml_program\.global private mutable @(?:"([^"]+)"|([\w$.-]+))\()'
                        r"dense<[^>]*> : (tensor<[^>]*>)\)(.*)$")
_NP = {"f32": np.float32, "f64": np.float64, "i8": np.int8, "i32": np.int32, "i64": np.int64}


def global_names(mlir):
    """The mutable ml_program globals of a module, in module order (the
    order of @<entry>_get_state's results)."""
    out = []
    for line in mlir.splitlines():
        m = _GLOBAL_RE.match(line)
        if m:
            out.append(m.group(2) or m.group(3))
    return out


def set_globals(mlir, values):
    """The module text with the initial values of the named globals
    replaced by `values` (name -> array of the global's type)."""
    lines = []
    for line in mlir.splitlines():
        m = _GLOBAL_RE.match(line)
        name = m and (m.group(2) or m.group(3))
        if m and name in values:
            ttype = m.group(4)
            et = ttype[:-1].split("x")[-1].split("<")[-1]
            shape = tuple(int(d) for d in re.findall(r"(\d+)x", ttype))
            a = np.ascontiguousarray(np.asarray(values[name], _NP[et]).reshape(shape))
            line = '%sdense<"0x%s"> : %s)%s' % (m.group(1), a.tobytes().hex().upper(), ttype,
                                               m.group(5))
        lines.append(line)
    return "\n".join(lines) + "\n"


def train_step_options(loss="cross-entropy", optimizer="sgd", momentum=0.0, dampening=0.0,
                       nesterov=False, weight_decay=0.0, betas=(0.9, 0.999), eps=1e-8,
                       entry="main", numerics="fake-quant"):
    if numerics not in ("fake-quant", "deployed"):
        raise ValueError("numerics=%r: fake-quant or deployed" % (numerics,))
    opts = ["entry=%s" % entry, "numerics=%s" % numerics, "loss=%s" % loss,
            "optimizer=%s" % optimizer,
            "momentum=%r" % float(momentum), "dampening=%r" % float(dampening),
            "weight-decay=%r" % float(weight_decay), "beta1=%r" % float(betas[0]),
            "beta2=%r" % float(betas[1]), "eps=%r" % float(eps)]
    if nesterov:
        opts.append("nesterov=true")
    return " ".join(opts)


def trainable(mlir, target="x86", entry="main", prepared=False, bn_mode="fold", lsq=False,
              lsq_grad_factor="one", calibration=None, **options):
    """Float (or, with prepared=True, prepared and calibrated) MLIR text to
    the trainable module of qat-generate-train-step. bn_mode: "fold" (batch
    norm folded before training) or "train" (PyTorch's ConvBn2d: batch
    statistics, running statistics updated; needs a float model).
    lsq=True: the quantizers' scales and zero points are learned (LSQ,
    qat-make-trainable{lsq}), starting from the calibrated ones: the model
    is calibrated on `calibration` (batches of @entry's inputs; none with
    prepared=True, which is taken as calibrated), frozen, then made
    trainable; lsq_grad_factor "one" (PyTorch's _LearnableFakeQuantize
    default) or "lsq" (1 / sqrt(numel * quant_max))."""
    if bn_mode not in ("fold", "train"):
        raise ValueError("bn_mode=%r: fold or train" % (bn_mode,))
    if lsq:
        if bn_mode != "fold" or options.get("numerics", "fake-quant") != "fake-quant":
            raise ValueError("lsq=True trains with bn_mode='fold' and fake-quant numerics")
        if lsq_grad_factor not in ("one", "lsq"):
            raise ValueError("lsq_grad_factor=%r: one or lsq" % (lsq_grad_factor,))
        if not prepared:
            if calibration is None:
                raise ValueError("lsq=True starts from calibrated scales: give calibration="
                                 "[batches] (or a prepared, calibrated model with "
                                 "prepared=True)")
            mlir = passes.calibrate(passes.prepare(mlir, target), entry, calibration,
                                    progress=False)
        pipeline = ("qat-freeze-qparams,qat-make-trainable{entry=%s lsq=true "
                    "lsq-grad-factor=%s},qat-generate-train-step{%s}"
                    % (entry, lsq_grad_factor, train_step_options(entry=entry, **options)))
        return passes._apply(mlir, pipeline, debug_info=False)
    if calibration is not None:
        raise ValueError("calibration= is for lsq=True (other modes observe while training)")
    deployed = options.get("numerics") == "deployed"
    if deployed and (not prepared or bn_mode != "fold"):
        raise ValueError("numerics='deployed' trains on the integer model of frozen "
                         "quantization parameters: give a prepared and calibrated model "
                         "(prepared=True) with bn_mode='fold' (docs/Deployed.md)")
    if not prepared:
        record = " record-bn=true" if bn_mode == "train" else ""
        mlir = passes._apply(mlir, "qat-prepare{target=%s%s}" % (target, record))
    pipeline = "qat-make-trainable{entry=%s bn-mode=%s},qat-generate-train-step{%s}" % (
        entry, bn_mode, train_step_options(entry=entry, **options))
    if deployed:
        pipeline = "qat-freeze-qparams," + pipeline
    return passes._apply(mlir, pipeline, debug_info=False)


class Trainer:
    """The self-contained compiled training step of a model (docs/Training.md).

    mlir: float TOSA text (exported), prepared for `target` here; or a
    prepared (calibrated) module with prepared=True. bn_mode: "fold" or
    "train" (ConvBn2d, docs/Training.md). lsq=True (with calibration=
    [batches], or a calibrated model with prepared=True) learns the
    quantizers' scales and zero points (LSQ; lsq_grad_factor "one" or
    "lsq"), see trainable(). Options: loss
    ("cross-entropy", "mse"), optimizer ("sgd": momentum, dampening,
    nesterov, weight_decay; "adam": betas, eps, weight_decay), threads
    (the step's kernels on that many OpenMP threads; kernels with fewer
    multiply-adds than parallel_min_macs, default 2^23, stay on one),
    numerics ("fake-quant", the default; "deployed": a prepared and
    calibrated model's quantization parameters are frozen and the step
    trains on the target's integer arithmetic, so evaluate() gives the
    int8 model's outputs bit for bit, docs/Deployed.md).
    """

    FUNCTIONS = ("train_step", "eval", "gradients", "get_state", "set_state",
                 "disable_observers", "enable_observers", "get_parameters")

    def __init__(self, mlir, target="x86", entry="main", prepared=False, threads=1,
                 bn_mode="fold", lsq=False, lsq_grad_factor="one", calibration=None,
                 parallel_min_macs=None, **options):
        self.entry, self.target = entry, target
        self.mlir = trainable(mlir, target, entry, prepared, bn_mode, lsq=lsq,
                              lsq_grad_factor=lsq_grad_factor, calibration=calibration,
                              **options)
        # Deployed numerics: @<entry> of the step module is already the
        # integer model's simulation; the int8 model is converted from the
        # frozen model with the trained parameters.
        self._frozen = None
        if options.get("numerics") == "deployed":
            self._frozen = passes._apply(
                mlir, "qat-freeze-qparams,qat-make-trainable{entry=%s}" % entry,
                debug_info=False)
        self.state_names = global_names(self.mlir)
        functions = self.FUNCTIONS + _bn_switches(self.mlir, entry)
        names = ["%s_%s" % (entry, f) for f in functions]
        self.module = _compile(self.mlir, entry=names, threads=threads,
                               parallel_min_macs=parallel_min_macs)
        self._f = {f: self.module[n] for f, n in zip(functions, names)}
        self.steps = 0

    def _labels(self, labels):
        """Class labels as the step's int32 (any integer array or tensor),
        checked against the class count; MSE targets as they are."""
        shape, dtype = self._f["train_step"].arg_types[1]
        if hasattr(labels, "detach"):
            labels = labels.detach().cpu().numpy()
        labels = np.asarray(labels)
        if dtype != np.int32:
            return labels
        if labels.dtype.kind not in "iu":
            raise ValueError("labels: class indices must be integers, got %s" % labels.dtype)
        if labels.shape != tuple(shape):
            raise ValueError("labels: shape %s, the step takes %s (one class index per row)"
                             % (labels.shape, tuple(shape)))
        classes = self._f["eval"].result_types[0][0][-1]
        bad = np.flatnonzero((labels < 0) | (labels >= classes))
        if bad.size:
            raise ValueError("labels: label %d at index %d is out of range: the model has %d "
                             "classes (0..%d)" % (labels[bad[0]], bad[0], classes, classes - 1))
        return np.ascontiguousarray(labels, np.int32)

    def step(self, x, labels, lr):
        """One training step on a batch; returns (loss, correct) as floats
        (correct: rows whose largest logit is the label; None for MSE).
        ValueError for labels out of range or arrays of the wrong shape."""
        out = self._f["train_step"](x, self._labels(labels), np.asarray(lr, np.float64))
        self.steps += 1
        if isinstance(out, tuple):
            return float(out[0]), int(np.asarray(out[1]).reshape(-1)[0])
        return float(out), None

    def gradients(self, x, labels):
        """(loss, [gradient per parameter]) without an update (observers
        update as in a step)."""
        out = self._f["gradients"](x, self._labels(labels))
        return float(out[0]), list(out[1:])

    def evaluate(self, x):
        return self._f["eval"](x)

    def disable_observers(self):
        self._f["disable_observers"]()

    def enable_observers(self):
        self._f["enable_observers"]()

    def freeze_bn_stats(self):
        """PyTorch's freeze_bn_stats (bn_mode="train"): from the next step
        on, batch norm normalizes with the running statistics and no
        longer updates them."""
        _bn_switch(self._f, "freeze_bn_stats")

    def update_bn_stats(self):
        """PyTorch's update_bn_stats: batch statistics again."""
        _bn_switch(self._f, "update_bn_stats")

    def parameters(self):
        out = self._f["get_parameters"]()
        return list(out) if isinstance(out, tuple) else [out]

    def state_dict(self):
        """Every mutable global (parameters, optimizer state, observer
        ranges, step counter, observer flag) by name: a checkpoint."""
        out = self._f["get_state"]()
        out = out if isinstance(out, tuple) else (out,)
        return {n: np.array(a) for n, a in zip(self.state_names, out)}

    def load_state_dict(self, state):
        missing = [n for n in self.state_names if n not in state]
        if missing:
            raise KeyError("checkpoint lacks %s" % ", ".join(missing))
        # np.ascontiguousarray would make rank-0 state (observer ranges) rank 1.
        self._f["set_state"](*[np.array(state[n], order="C") for n in self.state_names])

    def trained_mlir(self):
        """The trainable module with the current state as its globals'
        values."""
        return set_globals(self.mlir, self.state_dict())

    def finished(self):
        """The trained model as qat-prepare writes one (qat-finish-training):
        ready for freeze() and convert(). In deployed numerics: the frozen
        model with the trained parameters."""
        if self._frozen is not None:
            state = self.state_dict()
            names = [n for n in global_names(self._frozen) if n in state]
            return passes._apply(set_globals(self._frozen, {n: state[n] for n in names}),
                                 "qat-finish-training{entry=%s}" % self.entry, debug_info=False)
        return passes._apply(self.trained_mlir(), "qat-finish-training{entry=%s}" % self.entry,
                             debug_info=False)

    def convert(self, simulate=False):
        """The int8 model (MLIR text) of the trained model: finish, freeze,
        convert for the target (simulate=True: its float simulation)."""
        return passes.convert(passes.freeze(self.finished()), simulate=simulate)


def _bn_switches(mlir, entry):
    """freeze_bn_stats / update_bn_stats, where the module has them
    (batch norm on batch statistics)."""
    return tuple(f for f in ("freeze_bn_stats", "update_bn_stats")
                 if "@%s_%s(" % (entry, f) in mlir)


def _bn_switch(functions, name):
    if name not in functions:
        raise ValueError("%s: the model has no batch norm on batch statistics "
                         "(bn_mode='train')" % name)
    functions[name]()


# ---------------------------------------------------------------------------
# prepare_qat: a torch.nn.Module whose forward and backward are compiled code


def _autograd_function():
    import torch

    class CompiledQAT(torch.autograd.Function):
        """forward: @<entry>_forward (training: observers update) on the
        input and the parameters, read in place; backward:
        @<entry>_backward (the forward again at the ranges the forward
        stored, then the reverse-mode gradients of the parameters)."""

        @staticmethod
        def forward(ctx, module, x, *params):
            ctx.module = module
            ctx.save_for_backward(x, *params)
            return module._call("forward", x, *params)

        @staticmethod
        def backward(ctx, dy):
            x, *params = ctx.saved_tensors
            grads = ctx.module._call("backward", x, *params, dy.contiguous())
            grads = grads if isinstance(grads, tuple) else (grads,)
            return (None, None) + tuple(grads)
    return CompiledQAT


_FN = _MODULE = None


def prepare_qat(module, example_input, target="x86", name="main", threads=1, bn_mode="fold",
                lsq=False, lsq_grad_factor="one", calibration=None):
    """A torch.nn.Module doing what `module` does with the fake quantizers
    and observers of `target`, whose forward and backward are code
    compiled once by qat-mlir (docs/Training.md, "prepare_qat").

    module: a float torch.nn.Module (exported with qat_mlir.export on
    example_input, whose shapes, batch included, the compiled code keeps).
    bn_mode: "fold" (batch norm folded into the convolutions) or "train"
    (PyTorch's ConvBn2d: gamma and beta are parameters too, the running
    statistics update in train() mode and normalize in eval() mode). The returned module's
    weights and biases are torch.nn.Parameters (named after the compiled
    parameters: conv0_weight, ..., in the compiled layouts: OHWI
    convolution weights, [1, K, N] matmul weights) that the compiled code
    reads in place, so torch.optim, LR schedulers and state_dict work
    unchanged; the observers' ranges live in the compiled module (saved in
    state_dict as extra state). In train() mode forward updates the
    observers (until disable_observer()); in eval() mode it uses the
    stored ranges. convert() gives the int8 model.
    lsq=True: the quantizers' scales and zero points are Parameters too
    (LSQ, lsq_grad_factor "one" or "lsq"), initialised from a calibration
    on `calibration` (batches of inputs; default: [example_input]); there
    are no observers then.
    """
    global _FN, _MODULE
    if _FN is None:
        _FN, _MODULE = _autograd_function(), _make_module_class()
    from . import export
    text = export(module, example_input, name=name)
    if lsq and calibration is None:
        calibration = [example_input]
    return _MODULE(text, target, name, threads, bn_mode,
                   dict(lsq=lsq, lsq_grad_factor=lsq_grad_factor, calibration=calibration))


def _make_module_class():
    import torch

    class CompiledQATModule(torch.nn.Module):
        FUNCTIONS = ("forward", "backward", "forward_eval", "get_parameters", "set_parameters",
                     "get_state", "set_state", "disable_observers", "enable_observers")

        def __init__(self, text, target, entry, threads, bn_mode="fold", lsq=None):
            super().__init__()
            self.entry, self.target = entry, target
            out_rank = len(_native_result_shape(text, entry))
            options = {"loss": "cross-entropy" if out_rank == 2 else "mse"}
            if lsq and lsq["calibration"] is not None:
                lsq["calibration"] = [b.detach().numpy() if hasattr(b, "detach") else b
                                      for b in lsq["calibration"]]
            self.mlir = trainable(text, target, entry, bn_mode=bn_mode, **(lsq or {}), **options)
            self.state_names = global_names(self.mlir)
            functions = self.FUNCTIONS + _bn_switches(self.mlir, entry)
            names = ["%s_%s" % (entry, f) for f in functions]
            compiled = _compile(self.mlir, entry=names, threads=threads)
            self._f = {f: compiled[n] for f, n in zip(functions, names)}
            self.parameter_names = [
                n for n in self.state_names
                if re.search(r'@(?:"%s"|%s)\(.*qat\.parameter' % (re.escape(n), re.escape(n)),
                             self.mlir)]
            values = self._f["get_parameters"]()
            values = values if isinstance(values, tuple) else (values,)
            for n, v in zip(self.parameter_names, values):
                self.register_parameter(n, torch.nn.Parameter(torch.from_numpy(np.array(v))))

        def _params(self):
            return [getattr(self, n) for n in self.parameter_names]

        def _call(self, which, *args):
            return self._f[which](*[a.detach() if hasattr(a, "detach") else a for a in args])

        def forward(self, x):
            if not x.is_contiguous():
                x = x.contiguous()
            if self.training:
                return _FN.apply(self, x, *self._params())
            with torch.no_grad():
                return self._call("forward_eval", x, *self._params())

        def disable_observer(self):
            """PyTorch's disable_observer for every quantizer."""
            self._f["disable_observers"]()

        def enable_observer(self):
            self._f["enable_observers"]()

        def freeze_bn_stats(self):
            """PyTorch's freeze_bn_stats (bn_mode="train"): from the next
            forward on, batch norm uses and keeps the running statistics
            (train() does not undo it)."""
            _bn_switch(self._f, "freeze_bn_stats")

        def update_bn_stats(self):
            _bn_switch(self._f, "update_bn_stats")

        def _sync_parameters(self):
            self._f["set_parameters"](*[p.detach() for p in self._params()])

        def get_extra_state(self):
            """The compiled state that is not a parameter (observer ranges,
            the observer flag): saved with state_dict."""
            state = self._f["get_state"]()
            state = state if isinstance(state, tuple) else (state,)
            return {n: np.array(a) for n, a in zip(self.state_names, state)
                    if n not in self.parameter_names}

        def set_extra_state(self, extra):
            self._sync_parameters()
            state = self._f["get_state"]()
            state = state if isinstance(state, tuple) else (state,)
            merged = [np.array(extra[n], order="C") if n in extra else np.array(a)
                      for n, a in zip(self.state_names, state)]
            self._f["set_state"](*merged)

        def trained_mlir(self):
            """The trainable module with the current parameters and state."""
            self._sync_parameters()
            state = self._f["get_state"]()
            state = state if isinstance(state, tuple) else (state,)
            return set_globals(self.mlir, dict(zip(self.state_names, (np.array(a) for a in state))))

        def convert(self, simulate=False):
            """The int8 model (MLIR text) of the current parameters and
            observer state: qat-finish-training, qat-freeze-qparams,
            qat-convert-to-integer (simulate=True: its float simulation).
            qat_mlir.compile(...) runs it."""
            finished = passes._apply(self.trained_mlir(),
                                     "qat-finish-training{entry=%s}" % self.entry,
                                     debug_info=False)
            return passes.convert(passes.freeze(finished), simulate=simulate)
    return CompiledQATModule


def _native_result_shape(text, entry):
    from . import _native
    module = _native.parse(text)
    for f in module.functions():
        if f[0] == entry:
            return f[2][0][0]
    raise ValueError("no function @%s" % entry)

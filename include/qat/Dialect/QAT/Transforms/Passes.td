//===- Passes.td - passes that prepare models for quantization -*- tablegen -*-===//

#ifndef QAT_DIALECT_QAT_TRANSFORMS_PASSES_TD
#define QAT_DIALECT_QAT_TRANSFORMS_PASSES_TD

include "mlir/Pass/PassBase.td"

def FoldConvBNPass : Pass<"qat-fold-conv-bn", "::mlir::func::FuncOp"> {
  let summary = "Fold inference batch norm into the preceding conv2d, depthwise_conv2d or matmul";
  let description = [{
    Batch norm in inference form, decomposed as torch-mlir emits it, is a
    per-channel affine map `y = A * v + B` of the conv output `v`: any chain
    of `tosa.sub`, `tosa.mul` (shift 0) and `tosa.add` whose other operand is
    a constant broadcast along the channel axis (constants may be computed,
    e.g. `rsqrt(var + eps)`; the chain may start after one `tosa.transpose`,
    as when an NHWC conv feeds an NCHW batch norm). The pass folds it:
    `W' = W * A` per output channel (OHWI axis 0 for conv2d, `c * M + m` of
    HWCM for depthwise_conv2d, N of `[1, K, N]` for matmul) and
    `b' = A * b + B` (matmul has no bias operand, so a `tosa.add` of `B`
    follows it). A and B are computed in f64 and rounded to f32 once.

    After a grouped convolution as the exporter writes it (a `tosa.slice`
    and a `tosa.conv2d` per group, a `tosa.concat` of their results on the
    channels: include/qat/Dialect/QAT/Utils/GroupedConv.h), each step
    moves onto the groups first, `op(concat(c_g), K) = concat(op(c_g,
    K[g]))` with `K[g]` a `tosa.slice` of the group's channels of `K`; each
    group then folds its own steps.

    It leaves the IR alone, with a "missed" remark (category
    `qat-fold-conv-bn`, shown with `--remarks-filter=qat-fold-conv-bn`), when
    a per-channel operand is not constant, when a constant does not broadcast
    per channel, when the conv result has other users, or when the weight or
    the bias is not constant. Each fold gives a "passed" remark.

    Before:

    ```mlir
    %c = tosa.conv2d %x, %w, %b, %zp, %zp {...} : ... -> tensor<1x8x8x4xf32>
    %s = tosa.sub %c, %mean : (tensor<1x8x8x4xf32>, tensor<1x1x1x4xf32>) -> tensor<1x8x8x4xf32>
    %m = tosa.mul %s, %inv_std, %shift : ...
    %y = tosa.add %m, %beta : ...
    ```

    After:

    ```mlir
    %w2 = "tosa.const"() <{values = dense<...> : tensor<4x3x3x2xf32>}> : ...
    %b2 = "tosa.const"() <{values = dense<...> : tensor<4xf32>}> : ...
    %y = tosa.conv2d %x, %w2, %b2, %zp, %zp {...} : ... -> tensor<1x8x8x4xf32>
    ```

    With `record-bn`, a conv2d or depthwise_conv2d whose folded steps are
    exactly inference batch norm as torch-mlir writes it (`sub` a
    per-channel mean, `mul` by `rsqrt(add(var, eps))`, `mul` gamma, `add`
    beta) keeps what was folded as the discardable attribute
    `qat.batch_norm = {weight, bias, running_mean, running_var, gamma,
    beta, eps}` (the unfolded weight and bias, per-channel f32 vectors,
    eps as f64), for `qat-make-trainable{bn-mode=train}`.
  }];
  let options = [
    Option<"recordBatchNorm", "record-bn", "bool", /*default=*/"false",
           "Record each folded batch norm on its convolution (qat.batch_norm)">,
  ];
  let dependentDialects = ["::mlir::tosa::TosaDialect"];
}

def InsertFakeQuantPass : Pass<"qat-insert-fake-quant", "::mlir::ModuleOp"> {
  let summary = "Insert fake quantizers and observers as a target description requires";
  let description = [{
    Prepares a float TOSA model for quantization-aware training on a target
    (docs/Targets.md). In each function, in program order:

    1. Ops are grouped into fused kernels: from an op whose kind starts a
       fusion pattern of the target, the longest chain of single-use results
       matching the pattern forms one group; other ops of a quantized kind
       form groups of one.
    2. Every operand of a group that comes from outside it gets the
       quantization of its role in the op rule: a `weight` operand (it must
       be a constant, else it is quantized as an activation) gets a weight
       quantizer (`qat.observer` of kind `min_max` from the empty range,
       `qat.choose_qparams`, `qat.fake_quant`, per channel on the rule's
       `weight_axis` if the target says so); an `activation` operand gets the
       activation quantizer of its value, created once per value and shared
       by all quantized users, unless the value is already quantized.
    3. The result of a group whose last op is quantized gets an activation
       quantizer that replaces all its uses. Nothing is placed inside a
       group.
    4. Quantization-agnostic ops (`reshape`, `transpose`, `max_pool2d` in
       the built-in targets) produce a quantized value when their input is
       one; nothing is placed around them.
    5. A grouped convolution (a `tosa.slice` of one tensor's channels and a
       `tosa.conv2d` per group, a `tosa.concat` of their results on the
       channels, as the exporter writes PyTorch's `groups`), with the clamp
       the target fuses after a `conv2d`, is one group when the target has
       `slice` agnostic and a `concat` rule: one activation quantizer on
       the sliced tensor, one after the concat (or the clamp), none between
       a group's convolution and the concat, as PyTorch's eager QAT
       quantizes a grouped `nn.Conv2d`.
    6. A shared-scale op (`concat`; `add` on `bpu`) quantizes all its
       activation operands with one scale and zero point: each operand has
       its own observer state, and `qat.choose_qparams` takes the minimum of
       the minima and the maximum of the maxima.

    An activation quantizer keeps its observer state in two mutable
    `ml_program.global`s (`@<name>_min`, `@<name>_max`, initially +inf and
    -inf), loaded, updated by `qat.observer` and stored back on every call,
    so running the function (qat-calibrate, or training) estimates the range.
    `qat-freeze-qparams` turns the state into constants.

    Every placement and every refusal (an op outside the input contract, a
    non-constant weight) gives a remark in category `qat-insert-fake-quant`
    (`--remarks-filter=qat-insert-fake-quant`). The target name is recorded
    in the module attribute `qat.target`.

    Before (target x86):

    ```mlir
    func.func @f(%x: tensor<1x8x8x3xf32>) -> tensor<1x8x8x4xf32> {
      %y = tosa.conv2d %x, %w, %b, %zp, %zp {...}
      %r = tosa.clamp %y {min_val = 0.0 : f32, max_val = 3.4e38 : f32}
      return %r
    }
    ```

    After:

    ```mlir
    ml_program.global private mutable @act0_min(dense<0x7F800000> : tensor<f32>) : tensor<f32>
    ml_program.global private mutable @act0_max(dense<0xFF800000> : tensor<f32>) : tensor<f32>
    ...
    func.func @f(%x: tensor<1x8x8x3xf32>) -> tensor<1x8x8x4xf32> {
      %min = ml_program.global_load @act0_min : tensor<f32>
      %max = ml_program.global_load @act0_max : tensor<f32>
      %lo, %hi = qat.observer %x, %min, %max {kind = #qat.observer<moving_average>} ...
      ml_program.global_store @act0_min = %lo : tensor<f32>
      ml_program.global_store @act0_max = %hi : tensor<f32>
      %s, %z = qat.choose_qparams %lo, %hi {quant_min = 0, quant_max = 255} ...
      %xq = qat.fake_quant %x, %s, %z {quant_min = 0, quant_max = 255} ...
      %wq = qat.fake_quant %w, %ws, %wz {axis = 0, quant_min = -128, quant_max = 127} ...
      %y = tosa.conv2d %xq, %wq, %b, %zp, %zp {...}
      %r = tosa.clamp %y {...}
      %rq = qat.fake_quant %r, ...          // the group's output
      return %rq
    }
    ```
  }];
  let options = [
    Option<"target", "target", "std::string", /*default=*/"\"x86\"",
           "Target: x86, bpu or the path of a JSON target file, optionally "
           "followed by modifiers (x86:reduce-range, bpu:per-channel:pow2)">,
  ];
  let statistics = [
    Statistic<"numActivationQuantizers", "activation-quantizers",
              "Activation quantizers inserted">,
    Statistic<"numWeightQuantizers", "weight-quantizers",
              "Weight quantizers inserted">,
    Statistic<"numFusedGroups", "fused-groups",
              "Fused groups of more than one op">,
  ];
  let dependentDialects = [
    "::mlir::qat::QATDialect",
    "::mlir::ml_program::MLProgramDialect",
    "::mlir::arith::ArithDialect",
  ];
}

def FreezeQParamsPass : Pass<"qat-freeze-qparams", "::mlir::ModuleOp"> {
  let summary = "Turn observer state into constant scales and zero points";
  let description = [{
    Freezes a prepared (and calibrated) module: every `ml_program.global_load`
    of an observer state global becomes a constant of its current value, each
    `qat.observer` whose input is not constant is bypassed (its results are
    its state operands: the frozen model no longer observes), stores to the
    state globals and the globals themselves are erased, and observers,
    `qat.choose_qparams` and range combinations on constants fold with the
    formulas of their descriptions (PyTorch's, bit for bit). What remains is
    `qat.fake_quant` with constant scale and zero point.

    An activation quantizer whose state is still the empty range (+inf,
    -inf: it never saw data) is an error naming the `qat.fake_quant`, unless
    `allow-uncalibrated` is set (then its scale is 1.0, zero point 0).

    Before:

    ```mlir
    %min = ml_program.global_load @act0_min : tensor<f32>
    %lo, %hi = qat.observer %x, %min, %max ...
    %s, %z = qat.choose_qparams %lo, %hi ...
    %y = qat.fake_quant %x, %s, %z ...
    ```

    After:

    ```mlir
    %s = arith.constant dense<0.0123> : tensor<f32>
    %z = arith.constant dense<17> : tensor<i32>
    %y = qat.fake_quant %x, %s, %z ...
    ```
  }];
  let options = [
    Option<"allowUncalibrated", "allow-uncalibrated", "bool", "false",
           "Accept quantizers that never observed data (scale 1, zero point 0)">,
  ];
  let dependentDialects = ["::mlir::arith::ArithDialect"];
}

def VerifyTargetPass : Pass<"qat-verify-target", "::mlir::ModuleOp"> {
  let summary = "Check that a prepared or frozen module respects a target";
  let description = [{
    Checks every `qat.fake_quant` and every quantized op of the module
    against a target description, and reports each violation as an error on
    the offending op that names the rule:

    - a weight or activation quantizer has the target's integer range
      (bits, signedness, narrow/reduce range), scheme (a symmetric target
      needs zero point 0, or the unsigned midpoint, wherever the zero point
      is constant or produced by `qat.choose_qparams`) and granularity
      (per-channel on the op rule's weight axis, or per tensor);
    - power-of-two targets have power-of-two scales (constant scales are
      checked; computed ones need `power_of_two` on `qat.choose_qparams`);
    - every operand with a role in the op rule of a quantized op is
      quantized (a `qat.fake_quant` result, possibly through agnostic ops);
    - no `qat.fake_quant` sits inside a fused group (between two ops of one
      fusion pattern);
    - the activation operands of a shared-scale op use one scale and zero
      point.

    With an empty `target` the module attribute `qat.target` (set by
    `qat-insert-fake-quant`) names it. The module is not changed.
  }];
  let options = [
    Option<"target", "target", "std::string", /*default=*/"\"\"",
           "Target to check against (default: the module's qat.target)">,
  ];
}

def MakeTrainablePass : Pass<"qat-make-trainable", "::mlir::ModuleOp"> {
  let summary = "Turn a prepared model's weights and biases into trainable parameters";
  let description = [{
    Input: a module after `qat-prepare` (and, usually, calibration). Each
    weight of a `tosa.conv2d`, `tosa.depthwise_conv2d` or `tosa.matmul`
    (the constant behind its weight quantizer) and each bias (the
    convolution's bias operand, the constant added to a matmul's result)
    becomes a mutable `ml_program.global` holding its value, marked
    `qat.parameter = "weight"` or `"bias"`, loaded where the constant was.
    Parameters are named after their kernel: `@conv<i>_weight`,
    `@conv<i>_bias`, `@matmul<i>_weight`, ... (`i` counts kernels of that
    kind in program order), or after the kernel's name location if it has
    one. One constant used by several kernels (equal constants merged by
    canonicalization) becomes one parameter per kernel.

    With `bn-mode=train`, a conv2d or depthwise_conv2d carrying
    `qat.batch_norm` (qat-prepare{record-bn}) trains as PyTorch 1.13's
    `ConvBn2d` (`_forward_approximate`), per output channel c:
    `s = gamma / sqrt(running_var + eps)` (`arith.divf`, `math.sqrt`: exact
    as PyTorch's); the weight quantizer (and its observer) sees `W * s`;
    `y0 = conv(x, fake_quant(W * s), 0) / s + bias`; then batch norm with the batch's statistics
    (`qat.batch_norm_train`: PyTorch 1.13's CPU kernel on channels-last
    data, its sums in the same order), and the running statistics are
    stored as `momentum * mean + (1 - momentum) * running_mean` and the
    same with the unbiased variance. Parameters
    `@<conv>_weight`, `_bias`, `_bn_weight` (gamma), `_bn_bias` (beta);
    state `@<conv>_bn_running_mean`, `_bn_running_var` (tagged
    `qat.bn_running`). The eval functions of qat-generate-train-step use
    the running statistics; qat-finish-training folds as
    `torch.ao.quantization.convert` does.

    With `lsq=true` (after `qat-freeze-qparams`), each `qat.fake_quant`
    with constant scale and zero point (half_even rounding) becomes
    `qat.lsq` reading parameters `@lsq<i>_scale` and `@lsq<i>_zero_point`
    (`qat.parameter = "lsq_scale"` / `"lsq_zero_point"`, f32, initialised
    to the frozen values; `i` counts quantizers in program order; a signed
    symmetric quantizer, zero point 0 as the targets' weights, keeps a
    constant zero point 0 as LSQ does, an affine one learns it as LSQ+), with
    `grad_factor` per `lsq-grad-factor`; qat-finish-training turns them
    back into `qat.fake_quant` with the trained values (scale clamped to
    2^-23, zero point rounded half to even and clamped, as `qat.lsq`'s
    forward).

    Each weight quantizer also gets its range as state,
    `@<param>_min`/`@<param>_max` (initially the weight's range): the train
    step stores the range its observer saw, so that observers can be
    frozen (PyTorch's `disable_observer`) for weights as for activations.

    Before:

    ```mlir
    %w = "tosa.const"() <{values = dense<...> : tensor<8x3x3x1xf32>}>
    %lo, %hi = qat.observer %w, %inf, %ninf {axis = 0 : i64} ...
    %wq = qat.fake_quant %w, %s, %z {axis = 0 : i64, ...}
    %y = tosa.conv2d %x, %wq, %b, %zp, %zp {...}
    ```

    After:

    ```mlir
    ml_program.global private mutable @conv0_weight(dense<...>) {qat.parameter = "weight"} : tensor<8x3x3x1xf32>
    ...
    %w = ml_program.global_load @conv0_weight : tensor<8x3x3x1xf32>
    %lo, %hi = qat.observer %w, %inf, %ninf {axis = 0 : i64} ...
    ```
  }];
  let options = [
    Option<"entry", "entry", "std::string", /*default=*/"\"main\"",
           "The function whose weights become parameters">,
    Option<"bnMode", "bn-mode", "std::string", /*default=*/"\"fold\"",
           "fold: batch norm stays folded into the weights (trained "
           "folded); train: convolutions with a recorded batch norm "
           "(qat-prepare{record-bn}) train as PyTorch's ConvBn2d">,
    Option<"bnMomentum", "bn-momentum", "double", /*default=*/"0.1",
           "Momentum of the running statistics (bn-mode=train)">,
    Option<"lsq", "lsq", "bool", /*default=*/"false",
           "Every fake quantizer (its scale and zero point constants: "
           "qat-freeze-qparams first) becomes qat.lsq with its scale and "
           "zero point as trained parameters">,
    Option<"lsqGradFactor", "lsq-grad-factor", "std::string",
           /*default=*/"\"one\"",
           "qat.lsq's grad_factor: one (1.0, PyTorch's "
           "_LearnableFakeQuantize default) or lsq (1 / sqrt(numel * "
           "quant_max), LSQ's gradient scaling)">,
  ];
  let statistics = [
    Statistic<"numParameters", "parameters", "Parameters created">,
  ];
  let dependentDialects = [
    "::mlir::ml_program::MLProgramDialect",
    "::mlir::arith::ArithDialect",
    "::mlir::math::MathDialect",
  ];
}

def GenerateTrainStepPass : Pass<"qat-generate-train-step", "::mlir::ModuleOp"> {
  let summary = "Write the training step, its gradients and an eval entry of a trainable model";
  let description = [{
    Input: a module after `qat-make-trainable` whose function `entry`
    returns the model output. Writes, beside it:

    - `@<entry>_train_step(inputs..., labels, lr: tensor<f64>) -> (loss: tensor<f32>, correct: tensor<i32>)`:
      the forward with observers updating (unless frozen), the loss, its
      reverse-mode gradient with respect to every parameter (adjoints from
      `GradientOpInterface`, the upstream TOSA ops' ones attached as
      external models), the optimizer update of every parameter and its
      state, and the count of rows whose largest logit is the label
      (cross-entropy only). Parameters, optimizer state and the step
      counter `@<entry>_step` are globals updated in place.
    - `@<entry>_gradients(inputs..., labels) -> (loss, grad_0, ...)`: the
      same forward and backward without the update, one gradient per
      parameter in the order of the parameter globals.
    - `@<entry>_eval(inputs...) -> outputs`: the forward with every
      observer frozen (its stored range, no update).
    - `@<entry>_forward(inputs..., params...) -> outputs`,
      `@<entry>_backward(inputs..., params..., d_output) -> (d_params...)`
      and `@<entry>_forward_eval(inputs..., params...) -> outputs`: for
      frameworks that keep the parameters and the optimizer, the
      parameters are arguments (in the order of the parameter globals).
      `_forward` is the training forward (observers gated, ranges
      stored); `_backward` runs the forward again with every observer at
      its stored range (the ranges `_forward` stored: the same
      quantization) and returns the gradient of every parameter of the
      first output seeded with `d_output`; `_forward_eval` freezes the
      observers.
    - `@<entry>_get_parameters`, `_set_parameters`, `_get_state`,
      `_set_state`: read or write the parameters, or every mutable global
      (a checkpoint).
    - `@<entry>_disable_observers()`, `@<entry>_enable_observers()`: set
      the global flag `@<entry>_observe` that the training forward reads
      (PyTorch's `disable_observer` / `enable_observer`).

    `loss = cross-entropy`: labels are class indices, `tensor<Nxi32>`, and
    the output `N x C` logits (`qat.softmax_cross_entropy`, mean over the
    batch). `loss = mse`: labels have the output's type; the loss is the
    mean of the squared differences (TOSA ops, differentiated like the
    model).

    `optimizer = sgd` (`momentum`, `dampening`, `weight-decay`,
    `nesterov`: `qat.sgd_update`, torch.optim.SGD's update) keeps a
    momentum buffer `@<param>_momentum_buffer` beside each parameter when
    `momentum` is not 0; `optimizer = adam` (`beta1`, `beta2`, `eps`,
    `weight-decay`: `qat.adam_update`) keeps `@<param>_exp_avg` and
    `@<param>_exp_avg_sq`. All start at zero.

    An op between a parameter and the loss without an adjoint is an error
    naming it.

    `numerics = deployed` (docs/Deployed.md): before anything is written,
    `@<entry>` becomes the float simulation of the integer model that
    `qat-convert-to-integer` writes for the module's target (`qat.target`),
    on the live parameters: weights quantized by `qat.quantize`, biases by
    `qat.quantize_bias`, integer convolutions on f32 codes, the target's
    requantization. The quantizers must be frozen (`qat-freeze-qparams`
    before `qat-make-trainable`). The backward is the straight-through
    backward of those ops; `@<entry>_eval` then computes what the deployed
    int8 model computes. `numerics = fake-quant` (default): the forward as
    it is.
  }];
  let options = [
    Option<"entry", "entry", "std::string", /*default=*/"\"main\"",
           "The forward function">,
    Option<"loss", "loss", "std::string", /*default=*/"\"cross-entropy\"",
           "cross-entropy or mse">,
    Option<"optimizer", "optimizer", "std::string", /*default=*/"\"sgd\"",
           "sgd or adam">,
    Option<"momentum", "momentum", "double", /*default=*/"0.0",
           "SGD momentum">,
    Option<"dampening", "dampening", "double", /*default=*/"0.0",
           "SGD dampening">,
    Option<"nesterov", "nesterov", "bool", /*default=*/"false",
           "SGD with Nesterov momentum">,
    Option<"weightDecay", "weight-decay", "double", /*default=*/"0.0",
           "Weight decay (L2, added to the gradient) of SGD and Adam">,
    Option<"beta1", "beta1", "double", /*default=*/"0.9", "Adam beta1">,
    Option<"beta2", "beta2", "double", /*default=*/"0.999", "Adam beta2">,
    Option<"eps", "eps", "double", /*default=*/"1e-8", "Adam eps">,
    Option<"numerics", "numerics", "std::string", /*default=*/"\"fake-quant\"",
           "fake-quant (the forward as it is) or deployed (the target's "
           "integer arithmetic, docs/Deployed.md)">,
    Option<"returnQuantizerInputs", "return-quantizer-inputs", "bool",
           /*default=*/"false",
           "@<entry>_gradients also returns, for every fake quantizer "
           "(qat.fake_quant, qat.lsq) in program order, its input and its "
           "clip mask (the backward of a gradient of ones), to check them "
           "against another implementation">,
  ];
  let dependentDialects = [
    "::mlir::qat::QATDialect",
    "::mlir::ml_program::MLProgramDialect",
    "::mlir::tosa::TosaDialect",
    "::mlir::arith::ArithDialect",
    "::mlir::tensor::TensorDialect",
  ];
}

def FinishTrainingPass : Pass<"qat-finish-training", "::mlir::ModuleOp"> {
  let summary = "Turn a trained module back into a prepared model for freezing and conversion";
  let description = [{
    Input: a module after `qat-generate-train-step` whose globals hold the
    trained values (written back by the runtime, `qat-train` or
    `qat_mlir`). Output: the forward function `entry` as
    `qat-prepare` writes it, with the trained weights:

    - every load of a `qat.parameter` global becomes a constant of the
      global's value;
    - a weight quantizer keeps observing its (now constant) weight, so that
      `qat-freeze-qparams` folds its range from the trained weight, as
      PyTorch's convert runs the weight fake quantizer on the final weight;
      but if the observers were frozen (`@<entry>_observe` is 0), it uses
      the range it stored when they were, as PyTorch's disabled observer
      keeps its scale;
    - the functions the pass wrote (`@<entry>_train_step`,
      `_gradients`, `_eval`, ...) and the globals only they use (optimizer
      state, step counter, flag, weight ranges) are erased.

    Activation observer state stays in its globals for `qat-freeze-qparams`.
  }];
  let options = [
    Option<"entry", "entry", "std::string", /*default=*/"\"main\"",
           "The forward function">,
  ];
  let dependentDialects = ["::mlir::arith::ArithDialect"];
}

#endif // QAT_DIALECT_QAT_TRANSFORMS_PASSES_TD

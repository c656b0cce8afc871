// RUN: qat-opt %s --qat-fold-conv-bn=record-bn=true | FileCheck %s --check-prefix=RECORD
// RUN: qat-opt %s --qat-prepare="target=x86 record-bn=true" --qat-make-trainable=bn-mode=train | FileCheck %s --check-prefix=TRAIN
// RUN: qat-opt %s --qat-prepare="target=x86 record-bn=true" --qat-make-trainable=bn-mode=train --qat-generate-train-step=loss=mse | FileCheck %s --check-prefix=STEP
// RUN: qat-opt %s --qat-prepare="target=x86 record-bn=true" --qat-make-trainable=bn-mode=train --qat-generate-train-step=loss=mse --qat-finish-training | FileCheck %s --check-prefix=FINISH
// RUN: qat-opt %s --qat-prepare="target=x86" --qat-make-trainable=bn-mode=train | FileCheck %s --check-prefix=NORECORD
// RUN: not qat-opt %s --qat-make-trainable=bn-mode=bogus 2>&1 | FileCheck %s --check-prefix=BADMODE
//
// Batch norm trained as PyTorch's ConvBn2d (docs/Training.md): qat-prepare
// with record-bn folds it and records what it folded; qat-make-trainable
// with bn-mode=train rebuilds the training form; the eval functions use
// the running statistics; qat-finish-training folds again.

// RECORD: tosa.conv2d {{.*}} {acc_type = f32, dilation = array<i64: 1, 1>, pad = array<i64: 0, 0, 0, 0>, qat.batch_norm = {beta = dense<[0.000000e+00, -5.000000e-01]> : tensor<2xf32>, bias = dense<[5.000000e-01, 0.000000e+00]> : tensor<2xf32>, eps = 1.000000e+00 : f64, gamma = dense<[2.000000e+00, 8.000000e+00]> : tensor<2xf32>, running_mean = dense<[0.000000e+00, 5.000000e-01]> : tensor<2xf32>, running_var = dense<[3.000000e+00, 1.500000e+01]> : tensor<2xf32>, weight = dense<{{\[\[\[\[}}1.000000e+00, 2.000000e+00]]], {{\[\[\[}}3.000000e+00, 4.000000e+00]]]]> : tensor<2x1x1x2xf32>}, stride = array<i64: 1, 1>}

// Parameters hold the unfolded values; the running statistics are state.
// TRAIN-DAG: ml_program.global private mutable @conv0_weight(dense<{{\[\[\[\[}}1.000000e+00, 2.000000e+00]]], {{\[\[\[}}3.000000e+00, 4.000000e+00]]]]> : tensor<2x1x1x2xf32>) : tensor<2x1x1x2xf32> {qat.parameter = "weight"}
// TRAIN-DAG: ml_program.global private mutable @conv0_bias(dense<[5.000000e-01, 0.000000e+00]> : tensor<2xf32>) : tensor<2xf32> {qat.parameter = "bias"}
// TRAIN-DAG: ml_program.global private mutable @conv0_bn_weight(dense<[2.000000e+00, 8.000000e+00]> : tensor<2xf32>) : tensor<2xf32> {qat.parameter = "bn_weight"}
// TRAIN-DAG: ml_program.global private mutable @conv0_bn_bias(dense<[0.000000e+00, -5.000000e-01]> : tensor<2xf32>) : tensor<2xf32> {qat.parameter = "bn_bias"}
// TRAIN-DAG: ml_program.global private mutable @conv0_bn_running_mean(dense<[0.000000e+00, 5.000000e-01]> : tensor<2xf32>) : tensor<2xf32> {qat.bn_running = "mean"}
// TRAIN-DAG: ml_program.global private mutable @conv0_bn_running_var(dense<[3.000000e+00, 1.500000e+01]> : tensor<2xf32>) : tensor<2xf32> {qat.bn_running = "var"}
// TRAIN-LABEL: func.func @main
// s = gamma / sqrt(running_var + eps), exact divisions as PyTorch's; the
// weight quantizer sees W * s.
// TRAIN: %[[W:.*]] = ml_program.global_load @conv0_weight
// TRAIN: %[[G:.*]] = ml_program.global_load @conv0_bn_weight
// TRAIN: %[[RV:.*]] = ml_program.global_load @conv0_bn_running_var
// TRAIN: %[[VE:.*]] = tosa.add %[[RV]], %{{.*}} : (tensor<2xf32>, tensor<2xf32>)
// TRAIN: %[[R:.*]] = math.sqrt %[[VE]]
// TRAIN: %[[S:.*]] = arith.divf %[[G]], %[[R]] : tensor<2xf32>
// TRAIN: %[[S4:.*]] = tosa.reshape %[[S]], %{{.*}} -> tensor<2x1x1x1xf32>
// TRAIN: %[[WS:.*]] = tosa.mul %[[W]], %[[S4]], %{{.*}} {qat.conv_bn_weight = @conv0_weight}
// TRAIN: qat.observer %[[WS]]
// TRAIN: %[[WQ:.*]] = qat.fake_quant %[[WS]]
// TRAIN: %[[CB:.*]] = ml_program.global_load @conv0_bias
// TRAIN: %[[ZERO:.*]] = "tosa.const"() <{values = dense<0.000000e+00> : tensor<2xf32>}>
// TRAIN: %[[Y:.*]] = tosa.conv2d %{{.*}}, %[[WQ]], %[[ZERO]], %{{.*}}, %{{.*}} {{{.*}}qat.conv_bn = {beta = @conv0_bn_bias, bias = @conv0_bias, eps = 1.000000e+00 : f64, gamma = @conv0_bn_weight, running_mean = @conv0_bn_running_mean, running_var = @conv0_bn_running_var, weight = @conv0_weight}
// conv / s + bias, then batch norm on the batch's statistics
// (qat.batch_norm_train: PyTorch's CPU kernel, channels last).
// TRAIN: %[[SB:.*]] = tosa.add %{{.*}}, %{{.*}} : (tensor<2x2x2x2xf32>, tensor<1x1x1x2xf32>)
// TRAIN: %[[Y0:.*]] = arith.divf %[[Y]], %[[SB]] : tensor<2x2x2x2xf32>
// TRAIN: %[[Y1:.*]] = tosa.add %[[Y0]], %{{.*}}
// TRAIN: %[[G2:.*]] = ml_program.global_load @conv0_bn_weight
// TRAIN: %[[B2:.*]] = ml_program.global_load @conv0_bn_bias
// TRAIN: %[[OUT:.*]], %[[MEAN:.*]], %{{.*}}, %[[UVAR:.*]] = qat.batch_norm_train %[[Y1]], %[[G2]], %[[B2]] {epsilon = 1.000000e+00 : f64, qat.bn_batch_stat = [@conv0_bn_running_mean, @conv0_bn_running_var], qat.conv_bn_output = @conv0_weight} : tensor<2x2x2x2xf32>, tensor<2xf32>
// TRAIN: tosa.clamp %[[OUT]]
// Running statistics: momentum * batch + (1 - momentum) * running, the
// variance unbiased.
// TRAIN: "tosa.const"() <{values = dense<1.000000e-01> : tensor<2xf32>}>
// TRAIN: tosa.mul %[[MEAN]]
// TRAIN: "tosa.const"() <{values = dense<0.899999976> : tensor<2xf32>}>
// TRAIN: ml_program.global_store @conv0_bn_running_mean
// TRAIN: tosa.mul %[[UVAR]]
// TRAIN: ml_program.global_store @conv0_bn_running_var
// TRAIN: return

// The train step stores the running statistics; the eval entries and the
// backward (which recomputes the forward on the same batch) do not, and
// eval normalizes with them.
// freeze_bn_stats: the flag @main_bn_frozen (f, 0 or 1) blends the batch
// norm on batch statistics with the one on running statistics, out =
// batch * (1 - f) + running * f, and keeps the stored running statistics
// while it is set.
// STEP: ml_program.global private mutable @main_bn_frozen(dense<0> : tensor<i8>) : tensor<i8>
// STEP-LABEL: func.func @main_train_step
// STEP: %[[FROZEN:.*]] = ml_program.global_load @main_bn_frozen
// STEP: %[[FROZEN4:.*]] = tosa.reshape %[[FROZEN]], %{{.*}} -> tensor<1x1x1x1xi8>
// STEP: %[[F:.*]] = tosa.cast %[[FROZEN4]] : (tensor<1x1x1x1xi8>) -> tensor<1x1x1x1xf32>
// STEP: %[[NOTF:.*]] = tosa.sub %{{.*}}, %[[F]] : (tensor<1x1x1x1xf32>, tensor<1x1x1x1xf32>)
// STEP: %[[BATCH:.*]], %{{.*}}, %{{.*}}, %{{.*}} = qat.batch_norm_train
// STEP: tosa.rsqrt
// STEP: %[[RUNNING:.*]] = tosa.add
// STEP: %[[KEEP:.*]] = tosa.mul %[[BATCH]], %[[NOTF]]
// STEP: %[[TAKE:.*]] = tosa.mul %[[RUNNING]], %[[F]]
// STEP: %[[BLEND:.*]] = tosa.add %[[KEEP]], %[[TAKE]]
// STEP: tosa.clamp %[[BLEND]]
// STEP: %[[UPDATED:.*]] = tosa.add %{{.*}}, %{{.*}} : (tensor<2xf32>, tensor<2xf32>)
// STEP: %[[F1:.*]] = tosa.reshape %[[F]], %{{.*}} -> tensor<1xf32>
// STEP: %[[NOTF1:.*]] = tosa.reshape %[[NOTF]], %{{.*}} -> tensor<1xf32>
// STEP: %[[NEW:.*]] = tosa.mul %[[UPDATED]], %[[NOTF1]]
// STEP: %[[OLD:.*]] = ml_program.global_load @conv0_bn_running_mean
// STEP: %[[KEPT:.*]] = tosa.mul %[[OLD]], %[[F1]]
// STEP: %[[STORED:.*]] = tosa.add %[[NEW]], %[[KEPT]]
// STEP: ml_program.global_store @conv0_bn_running_mean = %[[STORED]]
// STEP: qat.sgd_update
// STEP-LABEL: func.func @main_eval
// STEP-NOT: ml_program.global_store @conv0_bn_running
// STEP-NOT: qat.batch_norm_train
// STEP: arith.divf {{.*}} : tensor<2x2x2x2xf32>
// STEP: %[[ERV:.*]] = ml_program.global_load @conv0_bn_running_var
// STEP: %[[ERV4:.*]] = tosa.reshape %[[ERV]], %{{.*}} -> tensor<1x1x1x2xf32>
// STEP: %[[EVE:.*]] = tosa.add %[[ERV4]], %{{.*}}
// STEP: %[[EINV:.*]] = tosa.rsqrt %[[EVE]]
// STEP: %[[EALPHA:.*]] = tosa.mul %[[EINV]], %{{.*}}
// STEP: %[[ERM:.*]] = ml_program.global_load @conv0_bn_running_mean
// STEP: %[[ERM4:.*]] = tosa.reshape %[[ERM]], %{{.*}} -> tensor<1x1x1x2xf32>
// STEP: %[[EMA:.*]] = tosa.mul %[[ERM4]], %[[EALPHA]]
// STEP: %[[ESHIFT:.*]] = tosa.sub %{{.*}}, %[[EMA]]
// STEP: %[[EYA:.*]] = tosa.mul %{{.*}}, %[[EALPHA]]
// STEP: tosa.add %[[EYA]], %[[ESHIFT]]
// STEP-NOT: qat.batch_norm_train
// STEP: return
// STEP-LABEL: func.func @main_backward
// STEP-NOT: ml_program.global_store @conv0_bn_running
// STEP: ml_program.global_load @main_bn_frozen
// STEP-NOT: ml_program.global_store @conv0_bn_running
// STEP: qat.batch_norm_train
// STEP-NOT: ml_program.global_store @conv0_bn_running
// STEP: return
// STEP-LABEL: func.func @main_freeze_bn_stats()
// STEP: %[[ON:.*]] = arith.constant dense<1> : tensor<i8>
// STEP: ml_program.global_store @main_bn_frozen = %[[ON]]
// STEP-LABEL: func.func @main_update_bn_stats()
// STEP: %[[OFF:.*]] = arith.constant dense<0> : tensor<i8>
// STEP: ml_program.global_store @main_bn_frozen = %[[OFF]]

// Folded back as torch.ao.quantization.convert folds (running statistics
// unchanged here: the folded weight is W * gamma / sqrt(var + eps)).
// FINISH-NOT: bn_running
// FINISH-NOT: bn_frozen
// FINISH-NOT: @conv0_bn_weight
// FINISH-LABEL: func.func @main
// FINISH-NOT: arith.divf
// FINISH-NOT: tosa.reduce_sum
// FINISH-NOT: qat.batch_norm_train
// FINISH: %[[FW:.*]] = arith.constant dense<{{\[\[\[\[}}1.000000e+00, 2.000000e+00]]], {{\[\[\[}}6.000000e+00, 8.000000e+00]]]]> : tensor<2x1x1x2xf32>
// FINISH: qat.observer %[[FW]]
// FINISH: %[[FQ:.*]] = qat.fake_quant %[[FW]]
// FINISH: %[[FB:.*]] = arith.constant dense<[5.000000e-01, -1.500000e+00]> : tensor<2xf32>
// FINISH: %[[C:.*]] = tosa.conv2d %{{.*}}, %[[FQ]], %[[FB]]
// FINISH-NOT: qat.conv_bn
// FINISH: tosa.clamp %[[C]]
// FINISH-NOT: func.func @main_

// Without record-bn there is nothing to train as ConvBn2d: the batch norm
// stays folded.
// NORECORD-NOT: bn_running
// NORECORD-NOT: qat.batch_norm

// BADMODE: error: qat-make-trainable: unknown bn-mode 'bogus' (fold or train)

// eps = 1, running_var = [3, 15]: s = gamma / [2, 4] = [1, 2]; the folded weight is
// W * s = [[1, 2], [6, 8]], the folded bias (b - mean) * s + beta =
// [0.5, (0 - 0.5) * 2 - 0.5] = [0.5, -1.5].
func.func @main(%x: tensor<2x2x2x2xf32>) -> tensor<2x2x2x2xf32> {
  %w = "tosa.const"() <{values = dense<[[[[1.0, 2.0]]], [[[3.0, 4.0]]]]> : tensor<2x1x1x2xf32>}> : () -> tensor<2x1x1x2xf32>
  %b = "tosa.const"() <{values = dense<[0.5, 0.0]> : tensor<2xf32>}> : () -> tensor<2xf32>
  %zp = "tosa.const"() <{values = dense<0.0> : tensor<1xf32>}> : () -> tensor<1xf32>
  %shift = "tosa.const"() <{values = dense<0> : tensor<1xi8>}> : () -> tensor<1xi8>
  %c = tosa.conv2d %x, %w, %b, %zp, %zp {acc_type = f32, dilation = array<i64: 1, 1>, pad = array<i64: 0, 0, 0, 0>, stride = array<i64: 1, 1>} : (tensor<2x2x2x2xf32>, tensor<2x1x1x2xf32>, tensor<2xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<2x2x2x2xf32>
  %mean = "tosa.const"() <{values = dense<[[[[0.0, 0.5]]]]> : tensor<1x1x1x2xf32>}> : () -> tensor<1x1x1x2xf32>
  %var = "tosa.const"() <{values = dense<[[[[3.0, 15.0]]]]> : tensor<1x1x1x2xf32>}> : () -> tensor<1x1x1x2xf32>
  %eps = "tosa.const"() <{values = dense<1.0> : tensor<1x1x1x1xf32>}> : () -> tensor<1x1x1x1xf32>
  %gamma = "tosa.const"() <{values = dense<[[[[2.0, 8.0]]]]> : tensor<1x1x1x2xf32>}> : () -> tensor<1x1x1x2xf32>
  %beta = "tosa.const"() <{values = dense<[[[[0.0, -0.5]]]]> : tensor<1x1x1x2xf32>}> : () -> tensor<1x1x1x2xf32>
  %s = tosa.sub %c, %mean : (tensor<2x2x2x2xf32>, tensor<1x1x1x2xf32>) -> tensor<2x2x2x2xf32>
  %ve = tosa.add %var, %eps : (tensor<1x1x1x2xf32>, tensor<1x1x1x1xf32>) -> tensor<1x1x1x2xf32>
  %rs = tosa.rsqrt %ve : (tensor<1x1x1x2xf32>) -> tensor<1x1x1x2xf32>
  %m1 = tosa.mul %s, %rs, %shift : (tensor<2x2x2x2xf32>, tensor<1x1x1x2xf32>, tensor<1xi8>) -> tensor<2x2x2x2xf32>
  %m2 = tosa.mul %m1, %gamma, %shift : (tensor<2x2x2x2xf32>, tensor<1x1x1x2xf32>, tensor<1xi8>) -> tensor<2x2x2x2xf32>
  %y = tosa.add %m2, %beta : (tensor<2x2x2x2xf32>, tensor<1x1x1x2xf32>) -> tensor<2x2x2x2xf32>
  %r = tosa.clamp %y {max_val = 3.40282347E+38 : f32, min_val = 0.0 : f32} : (tensor<2x2x2x2xf32>) -> tensor<2x2x2x2xf32>
  return %r : tensor<2x2x2x2xf32>
}

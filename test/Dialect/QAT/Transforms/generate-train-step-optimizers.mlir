// RUN: qat-opt %S/Inputs/small_classifier.mlir --qat-prepare=target=x86 --qat-make-trainable --qat-generate-train-step="momentum=0.9 weight-decay=0.001" | FileCheck %s --check-prefix=SGD
// RUN: qat-opt %S/Inputs/small_classifier.mlir --qat-prepare=target=x86 --qat-make-trainable --qat-generate-train-step="optimizer=adam beta1=0.8 eps=1e-6" | FileCheck %s --check-prefix=ADAM
// RUN: qat-opt %S/Inputs/small_classifier.mlir --qat-prepare=target=x86 --qat-make-trainable --qat-generate-train-step | qat-opt > /dev/null
//
// The functions qat-generate-train-step writes, with cross-entropy and each
// optimizer: the train step (observers gated by @main_observe, the loss,
// the rows predicted right, the backward, one update per parameter, every
// store after every read), the eval entry (frozen observers), the observer
// switches and the parameter access.

// With SGD, a momentum buffer per parameter, zero at first.
// SGD-DAG: ml_program.global private mutable @main_observe(dense<1> : tensor<i8>) : tensor<i8>
// SGD-DAG: ml_program.global private mutable @main_step(dense<0> : tensor<i64>) : tensor<i64>
// SGD-DAG: ml_program.global private mutable @conv0_weight_momentum_buffer(dense<0.000000e+00> : tensor<2x3x3x1xf32>)
// SGD-DAG: ml_program.global private mutable @matmul0_bias_momentum_buffer(dense<0.000000e+00> : tensor<1x3xf32>)
// SGD-LABEL: func.func @main_train_step
// SGD-SAME: (%{{.*}}: tensor<2x4x4x1xf32>, %[[LABELS:.*]]: tensor<2xi32>, %[[LR:.*]]: tensor<f64>) -> (tensor<f32>, tensor<1xi32>)
// SGD: %[[FLAG:.*]] = ml_program.global_load @main_observe : tensor<i8>
// SGD: %[[RAW:.*]] = tensor.extract %[[FLAG]][] : tensor<i8>
// SGD: %[[ON:.*]] = arith.cmpi ne, %[[RAW]], %{{.*}} : i8
// SGD: %[[MIN:.*]] = ml_program.global_load @act0_min
// SGD: %[[NMIN:.*]], %{{.*}} = qat.observer
// SGD: %[[SMIN:.*]] = arith.select %[[ON]], %[[NMIN]], %[[MIN]] : tensor<f32>
// SGD: qat.choose_qparams %[[SMIN]]
// SGD: ml_program.global_store @act0_min = %[[SMIN]]
// SGD: %[[WMIN:.*]] = ml_program.global_load @conv0_weight_min
// SGD: %[[OBS:.*]], %{{.*}} = qat.observer %[[W:.*]], %{{.*}}, %{{.*}} {axis = 0 : i64
// SGD: %[[SW:.*]] = arith.select %[[ON]], %[[OBS]], %[[WMIN]] : tensor<2xf32>
// SGD: ml_program.global_store @conv0_weight_min = %[[SW]]
// SGD: %[[LOSS:.*]] = qat.softmax_cross_entropy %[[OUT:.*]], %[[LABELS]]
// SGD: %[[PRED:.*]] = tosa.argmax %[[OUT]] {axis = 1 : i32}
// SGD: %[[EQ:.*]] = tosa.equal %[[PRED]], %[[LABELS]]
// SGD: %[[CNT:.*]] = tosa.cast %[[EQ]] : (tensor<2xi1>) -> tensor<2xi32>
// SGD: %[[CORRECT:.*]] = tosa.reduce_sum %[[CNT]] {axis = 0 : i32}
// SGD: qat.softmax_cross_entropy_grad %{{.*}}, %[[OUT]], %[[LABELS]]
// SGD: %[[DW:.*]] = qat.fake_quant_grad %{{.*}}, %[[W]], %{{.*}}, %{{.*}} {axis = 0 : i64
// SGD: %[[STEP:.*]] = ml_program.global_load @main_step : tensor<i64>
// SGD: %[[BUF:.*]] = ml_program.global_load @conv0_weight_momentum_buffer
// SGD: %[[NP:.*]], %[[NB:.*]] = qat.sgd_update %[[W]], %[[DW]], %[[BUF]], %[[LR]], %[[STEP]] {momentum = 9.000000e-01 : f64, weight_decay = 1.000000e-03 : f64}
// SGD: %[[ONE:.*]] = arith.constant dense<1> : tensor<i64>
// SGD: %[[NEXT:.*]] = arith.addi %[[STEP]], %[[ONE]]
// SGD-NOT: ml_program.global_load
// SGD: ml_program.global_store @conv0_weight = %[[NP]]
// SGD: ml_program.global_store @conv0_weight_momentum_buffer = %[[NB]]
// SGD: ml_program.global_store @main_step = %[[NEXT]]
// SGD: return %[[LOSS]], %[[CORRECT]] : tensor<f32>, tensor<1xi32>
//
// SGD-LABEL: func.func @main_gradients
// SGD-SAME: -> (tensor<f32>, tensor<2x3x3x1xf32>, tensor<2xf32>, tensor<1x32x3xf32>, tensor<1x3xf32>)
// SGD-NOT: qat.sgd_update
// SGD: return
//
// The eval entry reads the stored ranges: no observer, no store.
// SGD-LABEL: func.func @main_eval
// SGD-NOT: qat.observer
// SGD-NOT: ml_program.global_store
// SGD: %[[EMIN:.*]] = ml_program.global_load @act0_min
// SGD: qat.choose_qparams %[[EMIN]]
// SGD: return
//
// For frameworks that keep the parameters: the parameters are arguments.
// The training forward gates its observers and stores the ranges.
// SGD-LABEL: func.func @main_forward
// SGD-SAME: (%{{.*}}: tensor<2x4x4x1xf32>, %[[FW:.*]]: tensor<2x3x3x1xf32>, %{{.*}}: tensor<2xf32>, %{{.*}}: tensor<1x32x3xf32>, %{{.*}}: tensor<1x3xf32>) -> tensor<2x3xf32>
// SGD-NOT: ml_program.global_load @conv0_weight :
// SGD: arith.select
// SGD: qat.observer %[[FW]]
// SGD: ml_program.global_store @conv0_weight_min
// SGD: return
// The eval forward and the backward read the stored ranges.
// SGD-LABEL: func.func @main_forward_eval
// SGD-NOT: qat.observer
// SGD-NOT: ml_program.global_store
// SGD: return
// SGD-LABEL: func.func @main_backward
// SGD-SAME: (%{{.*}}: tensor<2x4x4x1xf32>, %[[BW:.*]]: tensor<2x3x3x1xf32>, %{{.*}}: tensor<2xf32>, %{{.*}}: tensor<1x32x3xf32>, %{{.*}}: tensor<1x3xf32>, %[[DY:.*]]: tensor<2x3xf32>) -> (tensor<2x3x3x1xf32>, tensor<2xf32>, tensor<1x32x3xf32>, tensor<1x3xf32>)
// SGD-NOT: qat.observer
// SGD-NOT: ml_program.global_store
// SGD: %[[BWMIN:.*]] = ml_program.global_load @conv0_weight_min
// SGD: qat.choose_qparams %[[BWMIN]]
// SGD: qat.fake_quant %[[BW]]
// SGD-NOT: qat.softmax_cross_entropy
// SGD: qat.fake_quant_grad %{{.*}}, %[[BW]]
// SGD: return
//
// SGD-LABEL: func.func @main_disable_observers()
// SGD: %[[F:.*]] = arith.constant dense<0> : tensor<i8>
// SGD: ml_program.global_store @main_observe = %[[F]]
// SGD-LABEL: func.func @main_enable_observers()
// SGD: %[[T:.*]] = arith.constant dense<1> : tensor<i8>
// SGD: ml_program.global_store @main_observe = %[[T]]
// SGD-LABEL: func.func @main_get_parameters() -> (tensor<2x3x3x1xf32>, tensor<2xf32>, tensor<1x32x3xf32>, tensor<1x3xf32>)
// SGD-LABEL: func.func @main_set_parameters(%{{.*}}: tensor<2x3x3x1xf32>, %{{.*}}: tensor<2xf32>, %{{.*}}: tensor<1x32x3xf32>, %{{.*}}: tensor<1x3xf32>)
// SGD: ml_program.global_store @conv0_weight


// With Adam, two moments per parameter.
// ADAM-DAG: ml_program.global private mutable @conv0_weight_exp_avg(dense<0.000000e+00> : tensor<2x3x3x1xf32>)
// ADAM-DAG: ml_program.global private mutable @conv0_weight_exp_avg_sq(dense<0.000000e+00> : tensor<2x3x3x1xf32>)
// ADAM-LABEL: func.func @main_train_step
// ADAM: %[[M:.*]] = ml_program.global_load @conv0_weight_exp_avg
// ADAM: %[[V:.*]] = ml_program.global_load @conv0_weight_exp_avg_sq
// ADAM: %[[P:.*]], %[[M2:.*]], %[[V2:.*]] = qat.adam_update %{{.*}}, %{{.*}}, %[[M]], %[[V]], %{{.*}}, %{{.*}} {beta1 = 8.000000e-01 : f64, eps = 9.9999999999999995E-7 : f64}
// ADAM: ml_program.global_store @conv0_weight = %[[P]]
// ADAM: ml_program.global_store @conv0_weight_exp_avg = %[[M2]]
// ADAM: ml_program.global_store @conv0_weight_exp_avg_sq = %[[V2]]
// SGD-LABEL: func.func @main_get_state() -> (tensor<f32>, tensor<f32>,
// SGD: return
// SGD-LABEL: func.func @main_set_state(
// SGD: ml_program.global_store @act0_min
// SGD: ml_program.global_store @main_observe
// SGD: ml_program.global_store @main_step

//===- Passes.td - qat general transforms ------------------*- tablegen -*-===//

#ifndef QAT_TRANSFORMS_PASSES_TD
#define QAT_TRANSFORMS_PASSES_TD

include "mlir/Pass/PassBase.td"

def LinalgToLoopsPass : Pass<"qat-linalg-to-loops", "::mlir::func::FuncOp"> {
  let summary = "Lower buffer linalg ops to affine loops (all-parallel ops) or scf loops (the rest)";
  let description = [{
    Lowers each linalg op on buffers to loops: ops whose iterators are all
    parallel become `affine.for` nests, which `affine-super-vectorize` may
    then vectorize along the innermost loop; ops with a reduction iterator
    become `scf.for` nests, which no vectorizer touches, so every reduction
    keeps its sequential order (the LSQ gradient sums and observer ranges
    are defined by it). Ops on memrefs with a non-identity layout (slices)
    get `scf.for` nests too: `affine-super-vectorize` does not support
    strided layouts.

    NHWC pooling ops (max, min, sum) are the exception: their loops
    (n, oh, ow, c, kh, kw) become affine loops in the order
    (n, oh, ow, kh, kw, c), so that the innermost loop, over channels, is
    parallel and contiguous and gets vectorized. Each output element still
    reduces its window in the order kh, kw, so results do not change.

    An elementwise `linalg.generic` (every iterator parallel, no
    `linalg.index`) whose operands are static identity-layout memrefs, each
    indexed by the identity map or, for a 0-d input, by `()`, first becomes
    one loop over all its elements (`memref.collapse_shape` of the
    operands), its 0-d inputs loaded once before the loop. The vectorizer
    then fills whole vectors whatever the innermost dimension (an NHWC
    tensor of 8 channels, an image of 1), and what the body computes from a
    0-d input alone (a fake quantizer's `1 / scale`) is loop-invariant.
    Each element is computed by the same ops on the same values.

    The lane reduction of a per-tensor observer (`rows x 16` with iterators
    (reduction, parallel), its running ranges outputs indexed by the lane;
    alone or joined with the elementwise op that produces its input) becomes
    one `scf.for` over the rows on `vector<16xf32>`, the ranges carried as
    `iter_args` and stored once after the loop: as affine loops they went
    through memory on every row. Each lane applies the same ops to the rows
    in the same order.

    `memref.copy` between static memrefs that are not both contiguous but
    whose innermost dimension is (a slice, the interior of a padded
    buffer) becomes loops too: the trailing dimensions contiguous on both
    sides are collapsed into rows, each row copied by 64-byte
    `vector.load` / `vector.store` and element by element for its rest.
    Upstream lowers such a copy to a call of a generic runtime copy, one
    element at a time. (Copies between contiguous memrefs stay: they become
    one `memcpy`.) Before that, a copy into a fresh buffer (`memref.alloc`
    used by nothing but the two copies and its dealloc) immediately copied
    on, `copy %a, %t; copy %t, %b`, becomes `copy %a, %b`: how
    `qat-copy-global-stores` leaves each store into a global (a training
    step's updated parameters and momentum buffers).

    Before:

    ```mlir
    linalg.generic {iterator_types = ["parallel"]} ins(%x : memref<8xf32>) outs(%y : memref<8xf32>) {...}
    linalg.generic {iterator_types = ["reduction"]} ins(%x : memref<8xf32>) outs(%m : memref<f32>) {...}
    ```

    After:

    ```mlir
    affine.for %i = 0 to 8 { ... }
    scf.for %i = %c0 to %c8 step %c1 { ... }
    ```

    With `parallel`, an elementwise op (after the flattening above) and a
    copy between contiguous memrefs of at least `min-parallel-elements`
    elements are split into 16 or more chunks of whole vectors of 16,
    `affine.parallel` over the chunks (OpenMP threads after
    `convert-scf-to-openmp`), each chunk an `affine.for` the vectorizer
    takes, and the last elements after the chunks in a loop of their own.
    Each element is computed by the same ops as on one thread.
  }];
  let options = [
    Option<"parallel", "parallel", "bool", /*default=*/"false",
           "Split large elementwise ops and contiguous copies over threads "
           "(affine.parallel over chunks)">,
    Option<"minParallelElements", "min-parallel-elements", "int64_t",
           /*default=*/"65536",
           "With parallel: ops and copies of fewer elements stay on one "
           "thread">,
  ];
  let dependentDialects = [
    "::mlir::affine::AffineDialect",
    "::mlir::arith::ArithDialect",
    "::mlir::memref::MemRefDialect",
    "::mlir::scf::SCFDialect",
    "::mlir::vector::VectorDialect",
  ];
}

def DistinctReturnBuffersPass
    : Pass<"qat-distinct-return-buffers", "::mlir::func::FuncOp"> {
  let summary = "Give every memref a function returns a buffer of its own";
  let description = [{
    When one memref value is returned more than once (two results that CSE
    or folding made identical), each repeat is replaced by a fresh
    allocation holding a copy. `buffer-results-to-out-params` needs the
    returned buffers distinct (upstream crashes otherwise), and callers of
    the C ABI get one independent buffer per result.

    Before:

    ```mlir
    return %a, %a : memref<4xf32>, memref<4xf32>
    ```

    After:

    ```mlir
    %b = memref.alloc() : memref<4xf32>
    memref.copy %a, %b : memref<4xf32> to memref<4xf32>
    return %a, %b : memref<4xf32>, memref<4xf32>
    ```
  }];
  let dependentDialects = ["::mlir::memref::MemRefDialect"];
}

def CopyGlobalStoresPass
    : Pass<"qat-copy-global-stores", "::mlir::func::FuncOp"> {
  let summary = "Store a copy of each tensor stored into an ml_program global";
  let description = [{
    Works around an upstream bug in MLIR 22's bufferization of
    `ml_program.global_store` (its `bufferizesToMemoryRead` is false, fixed
    upstream in llvm-project PR 177387): one-shot bufferization does not see
    the store as a read of the stored tensor. So when the stored tensor is
    also read elsewhere, it stores a fresh, uninitialized buffer into the
    global; and when another op writes in place into the buffer the stored
    tensor lives in (two results computed into one `tensor.empty` merged by
    CSE, as two same-shaped parameter updates of a train step), the store
    copies the other op's values. Both silently. The pass gives every store
    its own copy, made by `bufferization.alloc_tensor() copy(...)`, whose read
    bufferizes correctly. The `qat-to-llvm` pipeline runs it before
    bufferization, so observer state and trained parameters kept in globals
    are always stored correctly.

    Before:

    ```mlir
    ml_program.global_store @act0_min = %lo : tensor<f32>
    %s, %z = qat.choose_qparams %lo, %hi ...
    ```

    After:

    ```mlir
    %copy = bufferization.alloc_tensor() copy(%lo) : tensor<f32>
    ml_program.global_store @act0_min = %copy : tensor<f32>
    %s, %z = qat.choose_qparams %lo, %hi ...
    ```
  }];
  let dependentDialects = ["::mlir::bufferization::BufferizationDialect"];
}

def StoreGlobalsInPlacePass
    : Pass<"qat-store-globals-in-place", "::mlir::func::FuncOp"> {
  let summary = "Compute an elementwise update of a global in the global's own buffer instead of copying it there";
  let description = [{
    Runs on buffers (after bufferization). Where a whole private global's
    buffer is overwritten by `memref.copy %t, %g` (`%g` a
    `memref.get_global`) and `%t` is a `memref.alloc` last written, before
    the copy, by an elementwise `linalg.generic` (every iterator parallel,
    `%t` an output indexed by the identity map whose old value the body
    does not read), the generic writes `%g` itself and the copy goes: how
    a training step's
    parameter and momentum updates (`qat.sgd_update`, `qat.adam_update`) and
    observer ranges reach their globals (`qat-copy-global-stores` made each
    store a copy; a copy chain `copy %a, %t2; copy %t2, %g` through a fresh
    buffer is first folded into `copy %a, %g`). ResNet-18's step copied
    2 x 47 MB per step this way.

    The rewrite happens only when it cannot change a value read:
    - the generic reads the global (through any `memref.get_global` of its
      symbol, or a view of one) only at the element it writes (identity
      map), so each element is read before it is overwritten, as the
      elementwise update on the old values computes it;
    - between the generic and the copy, no op reads or writes the global,
      and no op writes `%t`; ops there that read `%t` read the global
      instead (which holds the same values from the generic on);
    - nothing uses `%t` (or a view of it) after the generic but those reads,
      the copy and deallocations (uses before the generic, and the generic
      reading `%t` as an input - the gradient buffer bufferization reused
      for the update - see `%t` as before); every op between the generic
      and the copy has known
      memory effects (each on a buffer from `memref.alloc`/`alloca`, a
      function argument or another global), else nothing is rewritten.
    The copy's target global must be private (no outside code holds its
    address). Each element is computed by the same ops as before.

    Before:

    ```mlir
    %g = memref.get_global @w : memref<4xf32>
    %t = memref.alloc() : memref<4xf32>
    linalg.generic {...} ins(%g, %d : ...) outs(%t : memref<4xf32>) {...}
    memref.copy %t, %g : memref<4xf32> to memref<4xf32>
    memref.dealloc %t : memref<4xf32>
    ```

    After:

    ```mlir
    %g = memref.get_global @w : memref<4xf32>
    %g2 = memref.get_global @w : memref<4xf32>
    linalg.generic {...} ins(%g, %d : ...) outs(%g2 : memref<4xf32>) {...}
    ```
  }];
  let dependentDialects = ["::mlir::memref::MemRefDialect"];
}

def PlanMemoryPass : Pass<"qat-plan-memory", "::mlir::ModuleOp"> {
  let summary = "Place a function's temporary buffers in one arena, reusing memory between buffers whose lifetimes do not overlap";
  let description = [{
    For each function with a single-block body, takes every temporary
    buffer: a `memref.alloc` of static shape and identity layout in the
    body's block whose deallocations (`memref.dealloc` of it or of a view of
    it) are all in that block, and which is never returned, passed to a call
    or otherwise escapes. A buffer is live from its allocation to the last
    top-level op that uses it or a view of it (uses inside loops count for
    the loop); its deallocations are not uses.

    The buffers are placed in one byte array, the arena, by greedy
    placement by size (largest first, each at the lowest 64-byte aligned
    offset that no buffer with an overlapping lifetime occupies). Each
    allocation becomes a `memref.view` of the arena at its offset; its
    deallocations are erased. Two buffers share bytes only if their
    lifetimes are disjoint, so results do not change.

    With `arena=static` (the default) the arena is a module global
    (`memref.global`, uninitialized, 64-byte aligned): memory is reserved
    once for the process and its pages, touched on the first call, stay
    mapped, so calls do not pay for allocation and page faults. A flag
    global, taken with an atomic exchange on entry and given back on every
    return, keeps calls reentrant: a call that finds the arena taken (another
    thread, or recursion) allocates an arena of its own and frees it on
    return. With `arena=call` every call allocates the arena and frees
    it on return (one allocation instead of one per buffer).

    Before:

    ```mlir
    func.func @f(%x: memref<64xi8>, %y: memref<64xi8>) {
      %a = memref.alloc() : memref<64xi8>
      ... reads %x, writes %a ...
      %b = memref.alloc() : memref<64xi8>
      ... reads %a, writes %b ...
      memref.dealloc %a : memref<64xi8>
      ... reads %b, writes %y ...
      memref.dealloc %b : memref<64xi8>
      return
    }
    ```

    After (`arena=call`; `%a` and `%b` are both live at the second
    op, so they take different bytes):

    ```mlir
    func.func @f(%x: memref<64xi8>, %y: memref<64xi8>) {
      %arena = memref.alloc() {alignment = 64 : i64} : memref<128xi8>
      %a = memref.view %arena[%c0][] : memref<128xi8> to memref<64xi8>
      %b = memref.view %arena[%c64][] : memref<128xi8> to memref<64xi8>
      ...
      memref.dealloc %arena : memref<128xi8>
      return
    }
    ```
  }];
  let options = [
    Option<"arena", "arena", "::mlir::qat::Arena",
           /*default=*/"::mlir::qat::Arena::Static",
           "static (the arena is a global that calls reuse; a call that "
           "finds it in use allocates its own), call (each call allocates "
           "the arena) or none (the pass changes nothing)",
           "::mlir::qat::arenaValues()">,
  ];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::memref::MemRefDialect",
    "::mlir::scf::SCFDialect",
  ];
}


def FlattenConstantGlobalsPass
    : Pass<"qat-flatten-constant-globals", "::mlir::ModuleOp"> {
  let summary = "Give constant memref globals of rank 2 and more a rank-1 type, read through memref.expand_shape";
  let description = [{
    A constant `memref.global` of static shape, identity layout and rank 2
    or more becomes a rank-1 global with the same elements in the same
    (row-major) order: its initial value is the same dense or
    `dense_resource` data with a flat type. Each `memref.get_global` of it
    becomes a `memref.get_global` of the flat global followed by a
    `memref.expand_shape` back to the original type, which is a view of the
    same bytes. No value changes.

    Why: the LLVM dialect translates a global of type
    `memref<16x3x3x64x16x4xi8>` to a nested array
    `[16 x [3 x [3 x [64 x [16 x [4 x i8]]]]]]`, one LLVM constant per inner
    array. A packed ResNet-50 holds millions of them, and LLVM's translation,
    call-graph analysis, context teardown and memory allocator spent most of
    `qat-compile`'s time on them. A flat global is one `ConstantDataArray`.

    Before:

    ```mlir
    memref.global "private" constant @w : memref<2x3xi8> = dense<[[1, 2, 3], [4, 5, 6]]>
    %w = memref.get_global @w : memref<2x3xi8>
    ```

    After:

    ```mlir
    memref.global "private" constant @w : memref<6xi8> = dense<[1, 2, 3, 4, 5, 6]>
    %0 = memref.get_global @w : memref<6xi8>
    %w = memref.expand_shape %0 [[0, 1]] output_shape [2, 3] : memref<6xi8> into memref<2x3xi8>
    ```

    Globals that are mutable, have no initial value, a dynamic shape, a
    non-identity layout, or a use other than `memref.get_global` are left
    alone.
  }];
  let dependentDialects = ["::mlir::memref::MemRefDialect"];
}


def OutlineLoopNestsPass : Pass<"qat-outline-loop-nests", "::mlir::ModuleOp"> {
  let summary = "Move each top-level loop nest of a large function into a function of its own";
  let description = [{
    In every function whose single-block body holds at least `min-nests`
    top-level loop nests (`scf.for`, `scf.parallel`, `scf.forall`,
    `affine.for`, `affine.parallel`), each such nest becomes a private
    function `<name>_nest<i>` called in its place. The values the nest uses
    from outside become arguments (index constants are copied in); nests
    yield no values. The new functions carry `passthrough = ["noinline"]`,
    so LLVM keeps them apart. Results do not change: the nest runs as
    before, on the same buffers.

    With `merge-identical` (default), a nest whose function would equal
    one outlined before (same type, same ops, attributes and constants;
    locations may differ) calls that function instead: the convolutions
    of a network that share shapes share their code. ResNet-50 with its
    observers has 425 nests, 147 of them distinct, so the steps after this
    one (the conversions to the LLVM dialect, translation, LLVM's
    optimizer and code generation) see about half the code. A merged
    function has several callers, so LLVM no longer propagates one call's
    constant arguments (buffer addresses) into it; results are the same.

    Why: a whole network lowers to one function with thousands of blocks,
    and LLVM's optimizer has analyses whose cost grows with the square of
    the blocks of a function (ScalarEvolution's
    `isBasicBlockEntryGuardedByCond` walks the dominator tree up to the
    entry). Per-nest functions keep each analysis local.

    Before:

    ```mlir
    func.func @main(%a: memref<4xf32>, %b: memref<4xf32>) {
      scf.for %i = %c0 to %c4 step %c1 { ... %a ... }
      scf.for %i = %c0 to %c4 step %c1 { ... %b ... }
      return
    }
    ```

    After (`min-nests=2`):

    ```mlir
    func.func @main(%a: memref<4xf32>, %b: memref<4xf32>) {
      call @main_nest0(%a) : (memref<4xf32>) -> ()
      call @main_nest1(%b) : (memref<4xf32>) -> ()
      return
    }
    func.func private @main_nest0(%a: memref<4xf32>) attributes {passthrough = ["noinline"]} { ... }
    ```
  }];
  let options = [
    Option<"minNests", "min-nests", "unsigned", /*default=*/"16",
           "outline only in functions with at least this many top-level loop nests">,
    Option<"mergeIdentical", "merge-identical", "bool", /*default=*/"true",
           "call one function for nests that are the same but for locations">
  ];
  let dependentDialects = ["::mlir::func::FuncDialect", "::mlir::scf::SCFDialect"];
}

def HoistParallelAllocasPass
    : Pass<"qat-hoist-parallel-allocas", "::mlir::func::FuncOp"> {
  let summary = "Static stack buffers of OpenMP loop bodies to one per thread";
  let description = [{
    `convert-scf-to-openmp` wraps the body of each parallel loop in a
    `memref.alloca_scope`, so that a `memref.alloca` in it is released after
    each iteration. Such a scope must stay one block, which
    `convert-scf-to-cf` breaks when the body holds loops; upstream's
    canonicalization does not hoist allocations out of an `omp.loop_nest`.

    This pass moves every `memref.alloca` of static shape inside an
    `omp.parallel` region (and not inside another allocation scope than
    `memref.alloca_scope`) to the start of that region, which is the body of
    the function each thread runs: each thread gets one buffer, reused by
    its iterations, instead of one per iteration. Only the contents of a
    fresh buffer differ, and they are undefined either way. Scopes left
    without allocations are inlined. The packed int8 kernels use such
    buffers for their AMX tiles (`qat-lower-packed-kernels`).

    Before:

    ```mlir
    omp.parallel {
      omp.wsloop {
        omp.loop_nest (%i) : index = (%c0) to (%c4) step (%c1) {
          memref.alloca_scope {
            %s = memref.alloca() : memref<256xi32>
            scf.for ... { ... %s ... }
          }
          omp.yield
        }
      }
      omp.terminator
    }
    ```

    After:

    ```mlir
    omp.parallel {
      %s = memref.alloca() : memref<256xi32>
      omp.wsloop {
        omp.loop_nest (%i) : index = (%c0) to (%c4) step (%c1) {
          scf.for ... { ... %s ... }
          omp.yield
        }
      }
      omp.terminator
    }
    ```
  }];
  let dependentDialects = ["::mlir::memref::MemRefDialect"];
}

def RebatchPass : Pass<"qat-rebatch", "::mlir::ModuleOp"> {
  let summary = "Rewrite a model for another batch size";
  let description = [{
    Rewrites each function (or the one named by `entry`) of a model whose
    arguments share a leading batch dimension B for batch `batch` = N:
    the arguments' dimension 0 becomes N and every value derived from them
    gets its new type. Results of a model that treats the images of a
    batch independently (every inference model of the TOSA input contract,
    frozen or converted) equal, image by image, those of the original.

    The batch is followed through the graph, not guessed from sizes:
    - ops with `InferShapedTypeOpInterface` (TOSA: convolutions, pools,
      matmul, elementwise, transpose, concat, pad, reductions) get the type
      they infer from their new operands;
    - `tosa.reshape` gets a new shape: the output dimension that holds the
      batch is the one that starts at the same element offset as the
      input's batch dimension and is a multiple of B; it is scaled by N / B;
    - `tosa.slice` must take the whole batch; its size is updated;
    - other ops (the qat ops) must keep the shape of an operand that
      carries the batch, and keep it with the new batch.
    Constants and values that do not depend on the arguments are kept.

    Errors name the op: an argument without a static leading dimension
    (or two arguments with different ones), calls, ops that reduce over the
    batch or slice part of it, a reshape that does not keep the batch in
    one dimension, or one that is ambiguous (a model exported at batch 1
    cannot tell a batch dimension from other dimensions of size 1 in a
    reshape: export it at batch 2 or more).

    Before (`batch=8`):

    ```mlir
    func.func @main(%x: tensor<32x3x8x8xf32>) -> tensor<32x10xf32> {
      %0 = tosa.reshape %x, %s : (tensor<32x3x8x8xf32>, !tosa.shape<2>) -> tensor<32x192xf32>
      ...
    ```

    After:

    ```mlir
    func.func @main(%x: tensor<8x3x8x8xf32>) -> tensor<8x10xf32> {
      %s8 = tosa.const_shape {values = dense<[8, 192]> : tensor<2xindex>} : () -> !tosa.shape<2>
      %0 = tosa.reshape %x, %s8 : (tensor<8x3x8x8xf32>, !tosa.shape<2>) -> tensor<8x192xf32>
      ...
    ```
  }];
  let options = [
    Option<"batch", "batch", "int64_t", /*default=*/"0",
           "The new batch size (> 0)">,
    Option<"entry", "entry", "std::string", /*default=*/"\"\"",
           "The function to rewrite (default: every function with a body)">,
  ];
  let dependentDialects = ["::mlir::tosa::TosaDialect"];
}

#endif // QAT_TRANSFORMS_PASSES_TD

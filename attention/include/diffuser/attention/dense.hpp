// The encoder layer's dense parts: nn.Linear forward and backward over the engine's dense primitives
// (engine/dense.hpp), which run on the device the operands live on; the primitives themselves are
// re-exported here so that the layer code names them all as dense::.
#pragma once

#include <diffuser/engine/dense.hpp>
#include <diffuser/engine/tensor.hpp>

namespace diffuser::attention::dense {

using diffuser::dense::add;
using diffuser::dense::as_heads;
using diffuser::dense::axpby;
using diffuser::dense::bias_add;
using diffuser::dense::column_dot;
using diffuser::dense::column_sums;
using diffuser::dense::copy;
using diffuser::dense::flat;
using diffuser::dense::gelu_backward;
using diffuser::dense::gelu_forward;
using diffuser::dense::gemm;
using diffuser::dense::layer_norm_apply;
using diffuser::dense::layer_norm_backward;
using diffuser::dense::layer_norm_forward;
using diffuser::dense::rows;
using diffuser::dense::tanh_backward;
using diffuser::dense::tanh_forward;

// y (T, out) = x (T, in) w^T + bias; w is (out, in) as in PyTorch's nn.Linear; bias may be empty.
void linear_forward(MatrixView<const float> x, MatrixView<const float> w, Span<const float> bias,
                    MatrixView<float> y);
// The backward of linear_forward: dx = dy w (written, or added when accumulate_dx; skipped when
// dx.data is null), dw += dy^T x (skipped when dw.data is null), dbias += column sums of dy
// (skipped when empty).
void linear_backward(MatrixView<const float> x, MatrixView<const float> w, MatrixView<const float> dy,
                     MatrixView<float> dx, bool accumulate_dx, MatrixView<float> dw, Span<float> dbias);

}  // namespace diffuser::attention::dense

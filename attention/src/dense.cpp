// nn.Linear over the engine's dense primitives: one product, then the bias; the backward's two
// products and the bias gradient's fixed-order column sums.
#include <diffuser/attention/dense.hpp>
#include <diffuser/engine/error.hpp>

namespace diffuser::attention::dense {

void linear_forward(MatrixView<const float> x, MatrixView<const float> w, Span<const float> bias,
                    MatrixView<float> y) {
  DIFFUSER_CHECK(x.cols == w.cols && y.rows == x.rows && y.cols == w.rows, "linear: x (", x.rows, ", ",
                 x.cols, "), weight (", w.rows, ", ", w.cols, ") and y (", y.rows, ", ", y.cols,
                 ") do not fit");
  gemm(false, true, 1.0f, x, w, 0.0f, y);
  if (bias.size) bias_add(y, bias);
}

void linear_backward(MatrixView<const float> x, MatrixView<const float> w, MatrixView<const float> dy,
                     MatrixView<float> dx, bool accumulate_dx, MatrixView<float> dw, Span<float> dbias) {
  DIFFUSER_CHECK(dy.rows == x.rows && dy.cols == w.rows && x.cols == w.cols, "linear backward: x (", x.rows,
                 ", ", x.cols, "), weight (", w.rows, ", ", w.cols, ") and dy (", dy.rows, ", ", dy.cols,
                 ") do not fit");
  if (dx.data) gemm(false, false, 1.0f, dy, w, accumulate_dx ? 1.0f : 0.0f, dx);
  if (dw.data) gemm(true, false, 1.0f, dy, x, 1.0f, dw);
  if (dbias.size) column_sums(dy, dbias, true);
}

}  // namespace diffuser::attention::dense

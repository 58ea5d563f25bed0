// diffuser._core.attend / attend_backward: the diffusion forward and backward on caller-owned
// arrays. The Python side allocates the outputs (NumPy or torch, so a torch caller's allocator
// owns them); inputs are read in place (arrays.hpp); the engine runs without the GIL. CUDA tensors
// run on the CUDA backend, on the caller's stream, with the caller's allocator for the scratch.
#include <optional>
#include <vector>

#include <pybind11/stl.h>

#include <diffuser/diffusion/coefficients.hpp>
#include <diffuser/diffusion/diffusion.hpp>
#include <diffuser/diffusion/diffusion_backward.hpp>
#include <diffuser/engine/device.hpp>
#include <diffuser/engine/error.hpp>
#include <diffuser/engine/ops.hpp>
#include <diffuser/engine/sys.hpp>

#include "arrays.hpp"
#include "coefficients.hpp"
#include "graph.hpp"
#include "runtime.hpp"

namespace diffuser::python {

namespace py = pybind11;

namespace {

struct Inputs {
  ArrayRef qa, ka, va;  // declared first: released last, with the GIL held
  Features q, k, v;
  Buffer<std::uint8_t> mask_buf;
  ops::NodeMask mask;
  std::int64_t n = 0, h = 0, d = 0;
};

Inputs read_inputs(const Graph& g, py::handle q, py::handle k, py::handle v, py::handle mask) {
  Inputs in;
  in.qa = array_ref(q, "q");
  in.ka = array_ref(k, "k");
  in.va = array_ref(v, "v");
  in.q = features(in.qa);
  for (const ArrayRef* a : {&in.ka, &in.va})
    if (a->shape != in.qa.shape)
      throw Error(cat(a->name, " has shape ", a->shape_text(), " but q has ", in.qa.shape_text(),
                      "; q, k and v must have the same shape (N, H, D)"));
  for (const ArrayRef* a : {&in.ka, &in.va})
    if (a->device_text != in.qa.device_text)
      throw Error(cat(a->name, " is on ", a->device_text, " but q is on ", in.qa.device_text,
                      "; q, k and v must be on one device"));
  in.k = features(in.ka);
  in.v = features(in.va);
  in.n = in.qa.shape[0];
  in.h = in.qa.shape[1];
  in.d = in.qa.shape[2];
  const std::int64_t gn = g.csr().num_nodes();
  if (gn == 0) throw Error(cat("the graph (", g.source(), ") has no nodes"));
  if (gn != in.n)
    throw Error(
        cat("N mismatch: the graph (", g.source(), ") has ", gn, " nodes but q has ", in.n, " tokens"));
  if (!mask.is_none()) {
    const ArrayRef ma = array_ref(mask, "mask");
    in.mask_buf = mask_bytes(ma, in.n);
    in.mask = ops::NodeMask{in.mask_buf.data(), in.mask_buf.size(), Device::cpu};
  }
  return in;
}

// Where the call runs: the CPU, or q's CUDA device on the caller's stream.
std::optional<CudaCall> placement(const Inputs& in, std::uintptr_t stream, py::object alloc,
                                  py::object free) {
  if (in.qa.on_cpu) return std::nullopt;
  std::string why;
  if (!cuda_available(&why))
    throw Error(
        cat("q is on ", in.qa.device_text, " but this build of diffuser cannot use CUDA (", why, ")"));
  return CudaCall{in.qa.cuda_device, stream, std::move(alloc), std::move(free)};
}

void same_device(const ArrayRef& out, const ArrayRef& q) {
  if (out.device_text != q.device_text)
    throw Error(cat(out.name, " is on ", out.device_text, " but q is on ", q.device_text));
}

// The mask where the call runs (the host bytes carried to the device inside the engine call).
ops::NodeMask device_mask(const Inputs& in, Buffer<std::uint8_t>& keep) {
  if (!in.mask.data || in.qa.on_cpu) return in.mask;
  keep = in.mask_buf.to(Device::cuda);
  return ops::NodeMask{keep.data(), keep.size(), Device::cuda};
}

diffusion::DiffusionDropout dropout_of(double p, std::uint64_t seed) {
  if (!(p >= 0.0 && p < 1.0)) throw Error(cat("dropout must be in [0, 1), got ", p));
  diffusion::DiffusionDropout dr;
  dr.p_weights = static_cast<float>(p);
  dr.p_hops = static_cast<float>(p);
  dr.seed = seed;
  return dr;
}

// The K - 1 hop states of a forward that keeps them: one C-contiguous float32 (K - 1, N, H, D) array,
// as a view per hop.
std::vector<Tensor3View<float>> hop_state_views(const ArrayRef& a, int hops, std::int64_t n, std::int64_t h,
                                                std::int64_t d) {
  const std::vector<std::int64_t> shape{hops - 1, n, h, d};
  if (a.kind != Kind::floating || a.itemsize != 4)
    throw Error(cat(a.name, " must be float32, got ", a.dtype));
  if (a.shape != shape)
    throw Error(cat(a.name, " must have shape ", shape_text(shape), ", got ", a.shape_text()));
  std::int64_t stride = 4;
  for (int t = 3; t >= 0; --t) {
    if (shape[static_cast<std::size_t>(t)] > 1 && a.byte_strides[static_cast<std::size_t>(t)] != stride)
      throw Error(cat(a.name, " must be C-contiguous"));
    stride *= shape[static_cast<std::size_t>(t)];
  }
  std::vector<Tensor3View<float>> views;
  for (std::int64_t s = 0; s < hops - 1; ++s)
    views.push_back(tensor3_view(static_cast<float*>(a.data) + s * n * h * d, n, h, d, a.device()));
  return views;
}

// Returns (out, weights_out or None): the caller's outputs (NumPy arrays or torch tensors it
// allocated from q's shape), written in place. q, k, v are checked first, so a bad q is named as
// such even when no output could be allocated for it.
py::tuple attend(const Graph& g, py::handle q, py::handle k, py::handle v, py::handle mask, int hops,
                 double alpha, std::optional<std::vector<double>> theta, std::optional<double> heat,
                 std::optional<int> threads, bool return_weights, double dropout, std::uint64_t seed,
                 py::object out, py::object weights_out, std::uintptr_t stream, py::object alloc,
                 py::object free, py::object keep_weights, py::object keep_states, bool check_finite) {
  const diffusion::Coefficients c = coefficients(hops, alpha, theta, heat);
  const diffusion::DiffusionDropout dr = dropout_of(dropout, seed);
  if (return_weights && dr.active()) throw Error("return_weights is not available with dropout");
  check_threads(threads);
  Inputs in = read_inputs(g, q, k, v, mask);
  const std::int64_t E = g.csr().num_edges();
  if (out.is_none() || (return_weights && weights_out.is_none()))
    throw Error("attend: no output arrays given");
  const ArrayRef za = array_ref(out, "out", true);
  same_device(za, in.qa);
  const Tensor3View<float> z = output_features(za, in.n, in.h, in.d);
  std::optional<ArrayRef> wa;
  MatrixView<float> w;
  if (return_weights) {
    wa = array_ref(weights_out, "weights", true);
    same_device(*wa, in.qa);
    w = output_matrix(*wa, E, in.h);
  }
  // What the forward keeps for the backward (diffuser.torch with recompute=False).
  diffusion::ForwardKeep keep;
  std::optional<ArrayRef> kwa, ksa;
  const int plan_hops = diffusion::hop_plan(c).hops();
  if (!keep_weights.is_none()) {
    if (return_weights) throw Error("attend: return_weights and keep_weights take one weights array");
    kwa = array_ref(keep_weights, "keep_weights", true);
    same_device(*kwa, in.qa);
    keep.weights = output_matrix(*kwa, E, in.h);
  }
  if (!keep_states.is_none() && plan_hops >= 2) {
    ksa = array_ref(keep_states, "keep_states", true);
    same_device(*ksa, in.qa);
    keep.hops = hop_state_views(*ksa, plan_hops, in.n, in.h, in.d);
  }
  const bool keeping = keep.weights.data || !keep.hops.empty();
  const std::optional<CudaCall> cuda = placement(in, stream, std::move(alloc), std::move(free));
  const std::int64_t node = in.n * in.h * in.d * 4;
  const bool need_scratch = c.hops() >= 2 && keep.hops.empty();
  const bool own_weights = !w.data && !(keep.weights.data && !dr.active());
  if (!cuda)
    require_memory((own_weights ? E * in.h * 4 : 0) + (need_scratch ? node : 0),
                   cat("attend N=", in.n, " E=", E, " H=", in.h, " D=", in.d, " (weights and a hop buffer)"));
  run_engine(threads, cuda, [&] {
    const Device dev = in.qa.device();
    const Csr& csr = cuda ? g.csr_on(cuda->device, cuda->stream) : g.csr();
    if (check_finite) {  // on a GPU each check returns a host value: a synchronisation
      diffusion::check_finite(in.q.view, "q");
      diffusion::check_finite(in.k.view, "k");
      diffusion::check_finite(in.v.view, "v");
    }
    Buffer<std::uint8_t> mask_keep;
    const ops::NodeMask dmask = device_mask(in, mask_keep);
    Tensor3<float> scratch;
    if (need_scratch) scratch = Tensor3<float>(in.n, in.h, in.d, dev);
    if (keeping) {
      diffusion::diffuse_forward(csr, in.q.view, in.k.view, in.v.view, dmask, c, dr, z, scratch.view(), keep);
    } else if (dr.active()) {
      diffusion::diffuse_forward(csr, in.q.view, in.k.view, in.v.view, dmask, c, dr, z, scratch.view());
    } else if (w.data) {
      diffusion::attention_weights(csr, in.q.view, in.k.view, dmask, 0.0f, w);
      diffusion::diffuse_values(csr, MatrixView<const float>(w), in.v.view, c, z, scratch.view());
    } else {
      ops::EdgeWeights ew(csr.view(), in.h);
      diffusion::attention_weights(csr, in.q.view, in.k.view, dmask, 0.0f, ew);
      diffusion::diffuse_values(csr, ew, in.v.view, c, z, scratch.view());
    }
  });
  return py::make_tuple(out, return_weights ? weights_out : py::none());
}

// Gradient outputs may be strided views (dq, dk, dv of one packed (N, 3, H, D) buffer).
Tensor3View<float> grad_output(const ArrayRef& a, const ArrayRef& q, std::int64_t n, std::int64_t h,
                               std::int64_t d) {
  same_device(a, q);
  if (a.kind != Kind::floating || a.itemsize != 4)
    throw Error(cat(a.name, " must be float32, got ", a.dtype));
  if (a.shape != std::vector<std::int64_t>{n, h, d})
    throw Error(cat(a.name, " must have shape ", shape_text({n, h, d}), ", got ", a.shape_text()));
  const std::int64_t sd = d == 1 ? 4 : a.byte_strides[2], sh = h == 1 ? 4 * d : a.byte_strides[1];
  const std::int64_t sn = n == 1 ? h * sh : a.byte_strides[0];
  if (sd != 4 || sh % 4 || sn % 4 || sh / 4 < d || sn / 4 < (sh / 4) * h)
    throw Error(cat(a.name, ": D must be contiguous and rows and heads must not overlap"));
  return {static_cast<float*>(a.data), n, h, d, sn / 4, sh / 4, a.device()};
}

void attend_backward(const Graph& g, py::handle q, py::handle k, py::handle v, py::handle dz, py::handle dq,
                     py::handle dk, py::handle dv, py::handle mask, int hops, double alpha,
                     std::optional<std::vector<double>> theta, std::optional<double> heat,
                     std::optional<int> threads, double dropout, std::uint64_t seed, int head_groups,
                     std::uintptr_t stream, py::object alloc, py::object free, py::object weights,
                     py::object states) {
  const diffusion::Coefficients c = coefficients(hops, alpha, theta, heat);
  diffusion::BackwardOptions opt;
  opt.dropout = dropout_of(dropout, seed);
  check_threads(threads);
  Inputs in = read_inputs(g, q, k, v, mask);
  const ArrayRef dza = array_ref(dz, "grad");
  if (dza.shape != in.qa.shape)
    throw Error(cat("grad has shape ", dza.shape_text(), " but the output has ", in.qa.shape_text()));
  same_device(dza, in.qa);
  const Features dzf = features(dza);
  const ArrayRef dqa = array_ref(dq, "dq", true), dka = array_ref(dk, "dk", true),
                 dva = array_ref(dv, "dv", true);
  const auto dqv = grad_output(dqa, in.qa, in.n, in.h, in.d), dkv = grad_output(dka, in.qa, in.n, in.h, in.d),
             dvv = grad_output(dva, in.qa, in.n, in.h, in.d);
  const std::int64_t E = g.csr().num_edges();
  const int plan_hops = diffusion::hop_plan(c).hops();
  // What the forward kept (recompute=False): its weights and hop states, read in place.
  std::optional<ArrayRef> kwa, ksa;
  if (!weights.is_none()) {
    kwa = array_ref(weights, "weights");
    same_device(*kwa, in.qa);
    opt.weights = output_matrix(*kwa, E, in.h);
  }
  if (!states.is_none() && plan_hops >= 2) {
    ksa = array_ref(states, "states");
    same_device(*ksa, in.qa);
    for (const auto& x : hop_state_views(*ksa, plan_hops, in.n, in.h, in.d)) opt.hop_inputs.push_back(x);
    opt.memory = diffusion::HopMemory::keep;
  }
  // Head groups as the layer picks them: the graph-sized buffers no larger than dQ, dK, dV.
  if (head_groups < 0 || (head_groups > 0 && in.h % head_groups != 0))
    throw Error(cat("head_groups must divide the ", in.h, " heads, got ", head_groups));
  opt.head_groups = head_groups > 0 ? head_groups
                                    : diffusion::auto_head_groups(in.n, E, in.h, in.d, plan_hops, opt.memory,
                                                                  3 * in.n * in.h * in.d * 4);
  const std::optional<CudaCall> cuda = placement(in, stream, std::move(alloc), std::move(free));
  if (!cuda)
    require_memory(diffusion::backward_bytes(in.n, E, in.h, in.d, plan_hops, opt.memory, opt.head_groups),
                   cat("attend backward N=", in.n, " E=", E, " H=", in.h, " D=", in.d));
  run_engine(threads, cuda, [&] {
    const Csr& csr = cuda ? g.csr_on(cuda->device, cuda->stream) : g.csr();
    const ReverseGraph& rg = cuda ? g.reverse_on(cuda->device, cuda->stream) : g.reverse();
    Buffer<std::uint8_t> mask_keep;
    const ops::NodeMask dmask = device_mask(in, mask_keep);
    diffusion::diffuse_backward(csr, rg, in.q.view, in.k.view, in.v.view, dmask, c, dzf.view, dqv, dkv, dvv,
                                opt);
  });
}

// What the engine would read for `x`: its address and whether a copy was needed (tests).
py::tuple engine_view(py::handle x) {
  const ArrayRef a = array_ref(x, "x");
  const Features f = features(a);
  return py::make_tuple(reinterpret_cast<std::uintptr_t>(f.view.data), f.copied);
}

}  // namespace

void bind_attend(py::module_& m) {
  m.def("attend", &attend, py::arg("graph"), py::arg("q"), py::arg("k"), py::arg("v"), py::arg("mask"),
        py::arg("hops"), py::arg("alpha"), py::arg("theta"), py::arg("heat"), py::arg("threads"),
        py::arg("return_weights"), py::arg("dropout") = 0.0, py::arg("seed") = 0, py::arg("out") = py::none(),
        py::arg("weights_out") = py::none(), py::arg("stream") = 0, py::arg("alloc") = py::none(),
        py::arg("free") = py::none(), py::arg("keep_weights") = py::none(),
        py::arg("keep_states") = py::none(), py::arg("check_finite") = true);
  m.def("attend_backward", &attend_backward, py::arg("graph"), py::arg("q"), py::arg("k"), py::arg("v"),
        py::arg("grad"), py::arg("dq"), py::arg("dk"), py::arg("dv"), py::arg("mask"), py::arg("hops"),
        py::arg("alpha"), py::arg("theta"), py::arg("heat"), py::arg("threads"), py::arg("dropout") = 0.0,
        py::arg("seed") = 0, py::arg("head_groups") = 0, py::arg("stream") = 0, py::arg("alloc") = py::none(),
        py::arg("free") = py::none(), py::arg("weights") = py::none(), py::arg("states") = py::none());
  m.def(
      "plan_hops",
      [](int hops, double alpha, std::optional<std::vector<double>> theta, std::optional<double> heat) {
        return diffusion::hop_plan(coefficients(hops, alpha, theta, heat)).hops();
      },
      py::arg("hops"), py::arg("alpha"), py::arg("theta"), py::arg("heat"));
  m.def("engine_view", &engine_view, py::arg("x"));
}

}  // namespace diffuser::python

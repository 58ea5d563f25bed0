#include <cstdio>
#include <system_error>

#include <diffuser/diffusion/diffusion_backward.hpp>
#include <diffuser/engine/atomic_file.hpp>
#include <diffuser/engine/error.hpp>
#include <diffuser/engine/npy.hpp>
#include <diffuser/engine/ops.hpp>
#include <diffuser/engine/ops_backward.hpp>
#include <diffuser/engine/sys.hpp>

#include "grad_attend.hpp"
#include "layer_io.hpp"

namespace diffuser::cli {

namespace fs = std::filesystem;

OptionGroup grad_option_group() {
  return {"backward (gradients)",
          {{.label = "--grad-out dZ.npy",
            .help = "dL/dZ, (N, H, D) float32/float64: also runs the backward pass and writes the gradients to "
                    "--grads-dir"},
           {.label = "--grads-dir DIR",
            .help = "DIR/dQ.npy, DIR/dK.npy, DIR/dV.npy (N, H, D) float32 (DIR is created if missing, its parent "
                    "must exist); needs --grad-out; the "
                    "weights and hop states are recomputed, not kept"}}};
}

AttendGrads::AttendGrads(AttendGrads&& o) noexcept
    : grad_out(std::move(o.grad_out)),
      grads_dir(std::move(o.grads_dir)),
      created_dir(o.created_dir),
      dq(std::move(o.dq)),
      dk(std::move(o.dk)),
      dv(std::move(o.dv)),
      n(o.n),
      h(o.h),
      d(o.d),
      backward_ms(o.backward_ms) {
  o.created_dir = false;
}

AttendGrads::~AttendGrads() {
  if (created_dir && grads_dir) {
    std::error_code ec;
    if (fs::is_empty(*grads_dir, ec)) fs::remove(*grads_dir, ec);
    release_temp_path(*grads_dir);  // removed, or holding this run's committed files
  }
}

AttendGrads attend_grad_options(Args& args, bool bf16_storage) {
  AttendGrads g;
  if (auto v = args.get("grad-out")) g.grad_out = fs::path(*v);
  if (auto v = args.get("grads-dir")) g.grads_dir = fs::path(*v);
  if (g.grad_out.has_value() != g.grads_dir.has_value())
    throw UsageError(g.grad_out ? "--grad-out needs --grads-dir DIR (where dQ.npy, dK.npy, dV.npy go)"
                                : "--grads-dir needs --grad-out dZ.npy (the gradient of the output)");
  if (!g.enabled()) return g;
  if (bf16_storage) throw UsageError("--grad-out runs the backward in float32: drop --dtype bf16");
  if (g.grads_dir->empty()) throw UsageError("--grads-dir needs a folder name");
  std::error_code ec;
  if (!fs::exists(*g.grads_dir, ec)) {
    const fs::path parent = g.grads_dir->parent_path().empty() ? fs::path(".") : g.grads_dir->parent_path();
    if (!fs::is_directory(parent, ec))
      throw Error(cat("--grads-dir ", g.grads_dir->string(), ": cannot create it, folder '", parent.string(),
                      "' does not exist"));
    if (!fs::create_directory(*g.grads_dir, ec) || ec)
      throw Error(cat("--grads-dir ", g.grads_dir->string(), ": cannot create it: ", ec.message()));
    g.created_dir = true;
    announce_temp_path(*g.grads_dir, true);  // a signal removes it (when empty)
  } else if (!fs::is_directory(*g.grads_dir, ec)) {
    throw Error(cat("--grads-dir ", g.grads_dir->string(), ": exists and is not a folder"));
  }
  for (const char* name : {"dQ.npy", "dK.npy", "dV.npy"}) check_output_path(*g.grads_dir / name, "grads-dir");
  return g;
}

void attend_grad_compute(AttendGrads& g, const Csr& graph, Tensor3View<const float> q,
                         Tensor3View<const float> k, Tensor3View<const float> v, ops::NodeMask mask,
                         const diffusion::Coefficients& c) {
  if (!g.enabled()) return;
  g.n = v.n;
  g.h = v.h;
  g.d = v.d;
  const Device dev = graph.device();
  Buffer<float> dz = load_like(*g.grad_out, {v.n, v.h, v.d}, "dZ");
  if (dev != Device::cpu) dz = dz.to(dev);
  const std::int64_t node = v.n * v.h * v.d;
  const int hops = diffusion::hop_plan(c).hops();
  const std::int64_t extra = 4 * node * 4 + diffusion::backward_bytes(v.n, graph.num_edges(), v.h, v.d, hops,
                                                                      diffusion::HopMemory::store);
  std::printf(
      "backward: dZ %s, needs %s more (dZ, dQ, dK, dV, weights and their gradient, %d hop buffer%s)\n",
      g.grad_out->c_str(), format_bytes(extra).c_str(), hops > 1 ? hops + 1 : 1, hops > 1 ? "s" : "");
  require_memory(extra, cat("attend backward N=", v.n, " E=", graph.num_edges(), " H=", v.h, " D=", v.d));
  Stopwatch sw;
  const ReverseGraph rg(graph);
  Buffer<float> dq(node, dev), dk(node, dev), dv(node, dev);
  auto view = [&](Buffer<float>& b) { return tensor3_view(b.data(), v.n, v.h, v.d, dev); };
  diffusion::diffuse_backward(graph, rg, q, k, v, mask, c,
                              tensor3_view<const float>(dz.data(), v.n, v.h, v.d, dev), view(dq), view(dk),
                              view(dv));
  synchronize(dev);
  g.backward_ms = sw.ms();
  g.dq = dev == Device::cpu ? std::move(dq) : dq.to(Device::cpu);
  g.dk = dev == Device::cpu ? std::move(dk) : dk.to(Device::cpu);
  g.dv = dev == Device::cpu ? std::move(dv) : dv.to(Device::cpu);
  // Inputs were finite: a NaN or Inf here is an overflow of the backward itself.
  const std::pair<const char*, const Buffer<float>*> results[] = {
      {"dQ", &g.dq}, {"dK", &g.dk}, {"dV", &g.dv}};
  for (const auto& [name, b] : results) {
    const std::int64_t bad = ops::find_non_finite(tensor3_view<const float>(b->data(), v.n, v.h, v.d));
    if (bad >= 0)
      throw Error(cat("stage 'backward' produced a non-finite value of ", name, " at [", bad / (v.h * v.d),
                      ", ", (bad / v.d) % v.h, ", ", bad % v.d,
                      "] from finite inputs: a value overflowed float32"));
  }
  std::printf("backward: %.3f ms (weights recomputed, %d hop backward passes, softmax and score backward)\n",
              g.backward_ms, hops);
}

void attend_grad_stage(AttendGrads& g, OutputSet& files) {
  if (!g.enabled()) return;
  const std::vector<std::int64_t> shape{g.n, g.h, g.d};
  const auto save = [&](const char* name, const Buffer<float>& b) {
    files.write(*g.grads_dir / name, "grads-dir", [&](const fs::path& p) { npy::save(p, b.data(), shape); });
  };
  save("dQ.npy", g.dq);
  save("dK.npy", g.dk);
  save("dV.npy", g.dv);
}

}  // namespace diffuser::cli

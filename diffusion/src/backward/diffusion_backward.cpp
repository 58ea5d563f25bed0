// The diffusion forward with dropout and its backward. Backward, for hops k = K .. 1 with
// out_k = D_k(a_k A x_{k-1} + b_k V) (D_k the hop's dropout) and G_K = dZ:
//   P_k = D_k(G_k);  dV += b_k P_k;  dA += a_k <P_k[i], x_{k-1}[j]> on every edge j -> i;
//   G_{k-1} = a_k A^T P_k   (x_0 = V, so finally dV += G_0)
// with the last two fused into one pass over the reverse graph (ops::hop_backward). Then the weight
// dropout's backward, the softmax backward and the score backward (ops::attention_backward).
// With head groups (BackwardOptions::head_groups) all of it runs per group of heads on strided
// sub-views, the dropout masks drawn at the heads' logical indices in the whole tensor.
#include <cmath>
#include <utility>

#include <diffuser/diffusion/diffusion_backward.hpp>
#include <diffuser/engine/device.hpp>
#include <diffuser/engine/error.hpp>
#include <diffuser/engine/sys.hpp>

namespace diffuser::diffusion {

namespace {

float resolve_scale(float scale, std::int64_t d) {
  return scale > 0.0f ? scale : 1.0f / std::sqrt(static_cast<float>(d));
}

template <class F>
double timed(Device d, bool want, F&& f) {
  if (!want) {
    f();
    return 0.0;
  }
  synchronize(d);
  Stopwatch sw;
  f();
  synchronize(d);
  return sw.ms();
}

// Heads [h0, h0 + g) of a (N, H, D) view: the same strides, the data offset by h0 heads.
template <class T>
Tensor3View<T> head_range(Tensor3View<T> t, std::int64_t h0, std::int64_t g) {
  if (t.data != nullptr) t.data += h0 * t.stride_h;
  t.h = g;
  return t;
}

// The logical heads of views holding heads [h0, h0 + count) of the tensor `drop` describes (whose
// views hold `view_heads` heads).
ops::HeadSlice sub_slice(const DiffusionDropout& drop, std::int64_t view_heads, std::int64_t h0) {
  const std::int64_t total = drop.heads.heads > 0 ? drop.heads.heads : view_heads;
  return {drop.heads.offset + h0, total};
}

void check_like(const char* what, const Tensor3View<const float>& t, const Tensor3View<const float>& v) {
  DIFFUSER_CHECK(t.n == v.n && t.h == v.h && t.d == v.d, "diffusion backward: ", what, " has shape (", t.n,
                 ", ", t.h, ", ", t.d, ") but v has (", v.n, ", ", v.h, ", ", v.d, ")");
}

// Per-edge weights with the weight dropout applied (training) or not.
void weights_into(const Csr& g, Tensor3View<const float> q, Tensor3View<const float> k, ops::NodeMask mask,
                  float scale, const DiffusionDropout* drop, ops::HeadSlice heads, MatrixView<float> w) {
  attention_weights(g, q, k, mask, scale, w);
  if (drop && drop->p_weights > 0.0f)
    ops::dropout_edges(w, drop->p_weights, drop->seed, drop->weights_stream(), heads);
}

// Columns [h0, h0 + dst.cols) of the (E, H) weights src into dst (E, g): one elementwise pass
// over (E, 1, g) views; 1 x + 0 x is x exactly for the weights (finite, never negative).
void copy_heads(MatrixView<const float> src, std::int64_t h0, MatrixView<float> dst) {
  const Tensor3View<const float> from{src.data + h0, src.rows, 1, dst.cols, src.cols, dst.cols, src.device};
  const Tensor3View<float> to{dst.data, dst.rows, 1, dst.cols, dst.cols, dst.cols, dst.device};
  ops::node_axpby(1.0f, from, 0.0f, from, to);
}

// Runs hops 1..count from V, ping-ponging between `a` and `b`; returns the view holding x_count
// (v itself when count == 0).
Tensor3View<const float> run_hops(const Csr& g, MatrixView<const float> w, const HopPlan& plan,
                                  Tensor3View<const float> v, int count, const DiffusionDropout& drop,
                                  ops::HeadSlice heads, Tensor3View<float> a, Tensor3View<float> b) {
  Tensor3View<const float> x = v;
  for (int k = 1; k <= count; ++k) {
    Tensor3View<float> dst = ((count - k) % 2 == 0) ? a : b;
    ops::gather_axpby(g.view(), w, plan.a[k - 1], x, plan.b[k - 1], v, dst);
    if (drop.p_hops > 0.0f) ops::dropout(dst, drop.p_hops, drop.seed, drop.hop_stream(k), heads);
    x = dst;
  }
  return x;
}

template <class T>
bool overlap(const Tensor3View<T>& a, const Tensor3View<const float>& b) {
  if (a.n == 0 || b.n == 0 || a.data == nullptr || b.data == nullptr) return false;
  auto end = [](const auto& t) {
    return reinterpret_cast<std::uintptr_t>(t.data + ((t.n - 1) * t.stride_n + (t.h - 1) * t.stride_h + t.d));
  };
  const auto la = reinterpret_cast<std::uintptr_t>(a.data), lb = reinterpret_cast<std::uintptr_t>(b.data);
  return la < end(b) && lb < end(a);
}

// Strided views into one packed buffer (dQ, dK, dV of the layer's (T, 3d) gradient) interleave
// without sharing elements: with equal row strides, compare the row footprints modulo the stride.
bool disjoint(const Tensor3View<float>& a, const Tensor3View<float>& b) {
  if (!overlap(a, Tensor3View<const float>(b))) return true;
  const std::int64_t s = a.stride_n;
  const std::int64_t ea = (a.h - 1) * a.stride_h + a.d, eb = (b.h - 1) * b.stride_h + b.d;
  if (b.stride_n != s || ea > s || eb > s) return false;
  const std::int64_t r = (((b.data - a.data) % s) + s) % s;
  return r >= ea && r + eb <= s;
}

}  // namespace

void diffuse_forward(const Csr& g, Tensor3View<const float> q, Tensor3View<const float> k,
                     Tensor3View<const float> v, ops::NodeMask mask, const Coefficients& c,
                     const DiffusionDropout& dropout, Tensor3View<float> out, Tensor3View<float> scratch,
                     const ForwardKeep& keep, float scale) {
  const HopPlan plan = hop_plan(c);
  const int K = plan.hops();
  // Plain attention keeps the standard Transformer's dropout only (on the weights).
  DiffusionDropout drop = dropout;
  if (c.plain_attention()) drop.p_hops = 0.0f;
  if (K == 0) {
    ops::node_axpby(plan.v_scale, v, 0.0f, v, out);
    return;
  }
  const bool keep_hops = !keep.hops.empty();
  DIFFUSER_CHECK(!keep_hops || static_cast<int>(keep.hops.size()) == K - 1, "diffuse_forward: ", K,
                 " hops keep ", K - 1, " hop states, got buffers for ", keep.hops.size());
  for (const auto& x : keep.hops) check_like("a hop state buffer", Tensor3View<const float>(x), v);
  DIFFUSER_CHECK(K == 1 || keep_hops || (scratch.n == v.n && scratch.h == v.h && scratch.d == v.d),
                 "diffuse_forward: ", K, " hops need a scratch buffer shaped like v");
  const std::int64_t E = g.num_edges();
  DIFFUSER_CHECK(!keep.weights.data || (keep.weights.rows == E && keep.weights.cols == q.h),
                 "diffuse_forward: the weights to keep must be (", E, ", ", q.h, "), got (",
                 keep.weights.rows, ", ", keep.weights.cols, ")");
  const ops::HeadSlice heads = sub_slice(drop, v.h, 0);
  const float s = resolve_scale(scale, q.d);
  Matrix<float> own, dropped;
  MatrixView<float> w = keep.weights;
  if (!w.data) {
    own = Matrix<float>(E, q.h, g.device());
    w = own.view();
  }
  // Kept weights stay as they were before dropout; the hops read a dropped copy.
  weights_into(g, q, k, mask, s, keep.weights.data ? nullptr : &drop, heads, w);
  MatrixView<const float> used = w;
  if (keep.weights.data && drop.p_weights > 0.0f) {
    dropped = Matrix<float>(E, q.h, g.device());
    copy_heads(w, 0, dropped.view());
    ops::dropout_edges(dropped.view(), drop.p_weights, drop.seed, drop.weights_stream(), heads);
    used = dropped.view();
  }
  if (!keep_hops) {
    run_hops(g, used, plan, v, K, drop, heads, out, scratch);
    return;
  }
  Tensor3View<const float> x = v;
  for (int kk = 1; kk <= K; ++kk) {
    const Tensor3View<float> dst = kk < K ? keep.hops[static_cast<std::size_t>(kk - 1)] : out;
    ops::gather_axpby(g.view(), used, plan.a[kk - 1], x, plan.b[kk - 1], v, dst);
    if (drop.p_hops > 0.0f) ops::dropout(dst, drop.p_hops, drop.seed, drop.hop_stream(kk), heads);
    x = dst;
  }
}

void diffuse_forward(const Csr& g, Tensor3View<const float> q, Tensor3View<const float> k,
                     Tensor3View<const float> v, ops::NodeMask mask, const Coefficients& c,
                     const DiffusionDropout& dropout, Tensor3View<float> out, Tensor3View<float> scratch,
                     float scale, std::vector<Tensor3<float>>* hop_states) {
  ForwardKeep keep;
  if (hop_states) {
    hop_states->clear();
    for (int kk = 1; kk < hop_plan(c).hops(); ++kk) {
      hop_states->emplace_back(v.n, v.h, v.d, g.device());
      keep.hops.push_back(hop_states->back().view());
    }
  }
  diffuse_forward(g, q, k, v, mask, c, dropout, out, scratch, keep, scale);
}

std::vector<Tensor3View<const float>> views_of(const std::vector<Tensor3<float>>& states) {
  std::vector<Tensor3View<const float>> views;
  for (const auto& x : states) views.push_back(x.view());
  return views;
}

namespace {

// The graph-sized buffers of the backward, for g heads, allocated once and reused by every head
// group (on the GPU each cudaFree synchronises): the weights and the weight gradient (E, g), the
// gradient ping-pong, and the hop inputs (store) or the two recompute buffers (recompute).
struct Workspace {
  Matrix<float> w, dw;
  Tensor3<float> ga, gb;
  std::vector<Tensor3<float>> xs;
  Tensor3<float> r1, r2;
  Workspace(std::int64_t N, std::int64_t E, std::int64_t g, std::int64_t D, int K, HopMemory memory,
            Device dev)
      : w(E, g, dev), dw(E, g, dev), ga(N, g, D, dev) {
    if (K >= 2) gb = Tensor3<float>(N, g, D, dev);
    if (memory == HopMemory::store) {
      for (int kk = 1; kk < K; ++kk) xs.emplace_back(N, g, D, dev);
    } else if (memory == HopMemory::recompute && K >= 2) {
      r1 = Tensor3<float>(N, g, D, dev);
      if (K >= 3) r2 = Tensor3<float>(N, g, D, dev);
    }
  }
};

// The backward of the heads the views hold (`heads`: their logical place, for the masks).
void backward_heads(const Csr& g, const ReverseGraph& rg, Tensor3View<const float> q,
                    Tensor3View<const float> k, Tensor3View<const float> v, ops::NodeMask mask,
                    const HopPlan& plan, const DiffusionDropout& drop, ops::HeadSlice heads, HopMemory memory,
                    const std::vector<Tensor3View<const float>>* kept, MatrixView<const float> kept_w,
                    std::int64_t h0, float scale, Tensor3View<const float> dz, Tensor3View<float> dq,
                    Tensor3View<float> dk, Tensor3View<float> dv, Workspace& ws, BackwardTimes& t,
                    bool want) {
  const Device dev = g.device();
  const int K = plan.hops();
  Matrix<float>& w = ws.w;
  Matrix<float>& dw = ws.dw;
  // The group's weights (with the weight dropout, or without: `dropped`), copied from the forward's
  // when it kept them, else recomputed.
  const auto group_weights = [&](bool dropped, MatrixView<float> out) {
    if (!kept_w.data) return weights_into(g, q, k, mask, scale, dropped ? &drop : nullptr, heads, out);
    copy_heads(kept_w, h0, out);
    if (dropped && drop.p_weights > 0.0f)
      ops::dropout_edges(out, drop.p_weights, drop.seed, drop.weights_stream(), heads);
  };
  t.weights_ms += timed(dev, want, [&] { group_weights(true, w.view()); });

  // Hop inputs x_1 .. x_{K-1} (store: recomputed here; keep: the forward's).
  if (memory == HopMemory::store) {
    t.hop_forward_ms += timed(dev, want, [&] {
      for (int kk = 1; kk < K; ++kk) {
        const Tensor3View<const float> prev = kk == 1 ? v : Tensor3View<const float>(ws.xs[kk - 2].view());
        const Tensor3View<float> x = ws.xs[kk - 1].view();
        ops::gather_axpby(g.view(), w.view(), plan.a[kk - 1], prev, plan.b[kk - 1], v, x);
        if (drop.p_hops > 0.0f) ops::dropout(x, drop.p_hops, drop.seed, drop.hop_stream(kk), heads);
      }
    });
  }

  // Store mode works on the per-edge values in reverse-graph order (one permutation in, one out):
  // the K hop passes then read and write them without indirection. Recompute mode, the low-memory
  // one, keeps them in forward order (its hop recomputation gathers over the forward graph).
  const bool reverse_order = memory != HopMemory::recompute;
  if (reverse_order) {
    t.weights_ms += timed(dev, want, [&] {
      ops::permute_edges(rg.view(), w.view(), dw.view());
      std::swap(w, dw);  // w: weights in reverse order; dw: the forward-order buffer, reused
    });
  }
  dw.buffer().zero();
  const ReverseView hop_graph = reverse_order ? rg.reverse_order() : rg.view();
  ops::node_axpby(1.0f, dz, 0.0f, dz, ws.ga.view());  // G_K = dZ
  Tensor3<float>* G = &ws.ga;
  Tensor3<float>* G_next = &ws.gb;
  for (int kk = K; kk >= 1; --kk) {
    Tensor3View<const float> x_in = v;
    if (kk > 1) {
      if (kept) {
        x_in = head_range((*kept)[static_cast<std::size_t>(kk - 2)], h0, v.h);
      } else if (memory == HopMemory::store) {
        x_in = ws.xs[kk - 2].view();
      } else {
        t.hop_forward_ms += timed(dev, want, [&] {
          x_in = run_hops(g, w.view(), plan, v, kk - 1, drop, heads, ws.r1.view(), ws.r2.view());
        });
      }
    }
    t.hop_backward_ms += timed(dev, want, [&] {
      Tensor3View<float> P = G->view();
      if (drop.p_hops > 0.0f) ops::dropout(P, drop.p_hops, drop.seed, drop.hop_stream(kk), heads);
      const float a = plan.a[kk - 1], b = plan.b[kk - 1];
      if (kk == K)
        ops::node_axpby(b, P, 0.0f, P, dv);
      else if (b != 0.0f)
        ops::node_axpby(1.0f, dv, b, P, dv);
      if (kk > 1) {
        ops::hop_backward(hop_graph, w.view(), a, P, x_in, 0.0f, {}, dw.view(), G_next->view());
        std::swap(G, G_next);
      } else {
        ops::hop_backward(hop_graph, w.view(), a, P, x_in, 1.0f, dv, dw.view(), dv);  // dV += G_0
      }
    });
  }

  t.weights_ms += timed(dev, want, [&] {
    if (reverse_order) {
      ops::unpermute_edges(rg.view(), dw.view(), w.view());
      std::swap(w, dw);  // dw: the weight gradient in forward order; w: a free buffer
    }
    // dA was taken w.r.t. the dropped weights: back through the mask.
    if (drop.p_weights > 0.0f)
      ops::dropout_edges(dw.view(), drop.p_weights, drop.seed, drop.weights_stream(), heads);
    // The softmax backward needs the weights before dropout in forward order: recomputed (one score
    // pass) rather than kept in a third E x g buffer.
    if (reverse_order || drop.p_weights > 0.0f) group_weights(false, w.view());
  });
  t.scores_ms += timed(dev, want, [&] {
    // dS in forward order (with dq), then in reverse order for dk's transposed gather (in every
    // hop memory mode, so that they give the same bits; the weights' buffer is free by then).
    ops::attention_backward(g.view(), rg.view(), q, k, scale, w.view(), dw.view(), dq, {});
    ops::permute_edges(rg.view(), dw.view(), w.view());
    ops::scatter_axpby(rg.reverse_order(), w.view(), scale, q, 0.0f, {}, dk);
  });
}

}  // namespace

void diffuse_backward(const Csr& g, const ReverseGraph& rg, Tensor3View<const float> q,
                      Tensor3View<const float> k, Tensor3View<const float> v, ops::NodeMask mask,
                      const Coefficients& c, Tensor3View<const float> dz, Tensor3View<float> dq,
                      Tensor3View<float> dk, Tensor3View<float> dv, const BackwardOptions& options,
                      BackwardTimes* times) {
  check_like("q", q, v);
  check_like("k", k, v);
  check_like("dz", dz, v);
  check_like("dq", dq, v);
  check_like("dk", dk, v);
  check_like("dv", dv, v);
  DIFFUSER_CHECK(rg.graph().num_nodes() == g.num_nodes() && rg.graph().num_edges() == g.num_edges(),
                 "diffusion backward: the reverse graph (", rg.graph().num_nodes(), " nodes, ",
                 rg.graph().num_edges(), " edges) does not belong to the graph (", g.num_nodes(), " nodes, ",
                 g.num_edges(), " edges)");
  for (const auto& in : {q, k, v, dz})
    DIFFUSER_CHECK(!overlap(dq, in) && !overlap(dk, in) && !overlap(dv, in),
                   "diffusion backward: dq, dk and dv must not overlap q, k, v or dz");
  DIFFUSER_CHECK(disjoint(dq, dk) && disjoint(dq, dv) && disjoint(dk, dv),
                 "diffusion backward: dq, dk and dv must not overlap each other");
  const std::int64_t N = v.n, H = v.h, D = v.d;
  const int groups = options.head_groups;
  DIFFUSER_CHECK(groups >= 1 && H % groups == 0, "diffusion backward: ", groups,
                 " head groups do not divide the ", H, " heads");

  const Device dev = g.device();
  const bool want = times != nullptr;
  BackwardTimes local;
  BackwardTimes& t = times ? *times : local;
  t = {};
  const HopPlan plan = hop_plan(c);
  const int K = plan.hops();
  DiffusionDropout drop = options.dropout;
  if (c.plain_attention()) drop.p_hops = 0.0f;
  const float scale = resolve_scale(options.scale, q.d);

  if (K == 0) {  // Z = theta_0 V: no weights, no dq / dk
    ops::node_axpby(plan.v_scale, dz, 0.0f, dz, dv);
    ops::node_axpby(0.0f, dz, 0.0f, dz, dq);
    ops::node_axpby(0.0f, dz, 0.0f, dz, dk);
    return;
  }

  const std::vector<Tensor3View<const float>>* kept = nullptr;
  if (options.memory == HopMemory::keep) {
    DIFFUSER_CHECK(static_cast<int>(options.hop_inputs.size()) == K - 1,
                   "diffusion backward: hop memory 'keep' needs the forward's ", K - 1, " hop states, got ",
                   options.hop_inputs.size());
    for (const auto& x : options.hop_inputs) check_like("a kept hop state", x, v);
    kept = &options.hop_inputs;
  }
  const MatrixView<const float> kept_w = options.weights;
  DIFFUSER_CHECK(!kept_w.data || (kept_w.rows == g.num_edges() && kept_w.cols == H && kept_w.device == dev),
                 "diffusion backward: the kept weights must be (", g.num_edges(), ", ", H, ") on ",
                 device_name(dev), ", got (", kept_w.rows, ", ", kept_w.cols, ") on ",
                 device_name(kept_w.device));

  const std::int64_t gh = H / groups;
  Workspace ws(N, g.num_edges(), gh, D, K, options.memory, dev);
  for (int grp = 0; grp < groups; ++grp) {
    const std::int64_t h0 = grp * gh;
    backward_heads(g, rg, head_range(q, h0, gh), head_range(k, h0, gh), head_range(v, h0, gh), mask, plan,
                   drop, sub_slice(drop, H, h0), options.memory, kept, kept_w, h0, scale,
                   head_range(dz, h0, gh), head_range(dq, h0, gh), head_range(dk, h0, gh),
                   head_range(dv, h0, gh), ws, t, want);
  }
}

std::int64_t backward_bytes(std::int64_t n, std::int64_t edges, std::int64_t heads, std::int64_t dim,
                            int hops, HopMemory memory, int head_groups) {
  DIFFUSER_CHECK(head_groups >= 1 && heads % head_groups == 0, "backward_bytes: ", head_groups,
                 " head groups do not divide the ", heads, " heads");
  const std::int64_t g = heads / head_groups;  // the heads of one group: the buffers hold those
  const std::int64_t node = n * g * dim * 4;
  const std::int64_t edge = edges * g * 4;
  if (hops == 0) return 0;
  std::int64_t node_buffers = hops >= 2 ? 2 : 1;  // the gradient ping-pong
  if (memory == HopMemory::store)
    node_buffers += hops - 1;
  else if (memory == HopMemory::recompute)
    node_buffers += hops >= 3 ? 2 : (hops == 2 ? 1 : 0);  // (keep: the hop states belong to the caller)
  return 2 * edge + node_buffers * node;
}

int auto_head_groups(std::int64_t n, std::int64_t edges, std::int64_t heads, std::int64_t dim, int hops,
                     HopMemory memory, std::int64_t budget_bytes) {
  DIFFUSER_CHECK(heads >= 1, "auto_head_groups: ", heads, " heads");
  for (std::int64_t groups = 1; groups <= heads; ++groups)
    if (heads % groups == 0 &&
        backward_bytes(n, edges, heads, dim, hops, memory, static_cast<int>(groups)) <= budget_bytes)
      return static_cast<int>(groups);
  return static_cast<int>(heads);
}

}  // namespace diffuser::diffusion

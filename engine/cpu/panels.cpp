// Dense panels (see panels.hpp): the per-graph plan, its cache, and the panel kernels of the fused
// hop and the fused scores + softmax.
#include <algorithm>
#include <atomic>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include <immintrin.h>

#include <tbb/blocked_range.h>
#include <tbb/enumerable_thread_specific.h>
#include <tbb/parallel_for.h>

#include "panels.hpp"
#include "row_kernels.hpp"

namespace diffuser::cpu {

namespace {

constexpr std::int64_t kMinSources = 4;    // fewer shared sources: the chunk keeps the per-row path
constexpr std::int64_t kSourceBlock = 64;  // panel sources per GEMM block (X 16 KB + W 8 KB per head: L1)

bool env_flag(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' && std::strcmp(v, "0") != 0;
}

std::int64_t env_int(const char* name, std::int64_t fallback, std::int64_t lo, std::int64_t hi) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return fallback;
  char* end = nullptr;
  const long long x = std::strtoll(v, &end, 10);
  if (end == v || *end != '\0' || x < lo || x > hi) return fallback;
  return x;
}

// Scratch that a TBB worker keeps between tasks (panel tiles are a few hundred KB: allocating them
// per task would page-fault every time).
float* thread_scratch(int which, std::size_t floats) {
  static thread_local std::vector<float> buf[3];
  std::vector<float>& v = buf[which];
  if (v.size() < floats) v.resize(floats);
  return v.data();
}

}  // namespace

std::int64_t padded_rows(std::int64_t m) {
  return (m + 15) / 16 * 16;
}

std::int64_t PanelPlan::bytes() const {
  return static_cast<std::int64_t>(chunks.size() * sizeof(Chunk) + rows.size() * 8 + src.size() * 4 +
                                   pos.size() * 4 + rest_ptr.size() * 8 + rest.size() * 4);
}

PanelPlan build_panel_plan(const CsrView& g, const HubRows& hubs, std::int64_t R, std::int64_t share_pct) {
  PanelPlan p;
  p.rows_per_chunk = R;
  p.hub_threshold = hubs.threshold;
  p.min_share_pct = share_pct;
  if (g.n == 0) return p;
  const std::int64_t nc = (g.n + R - 1) / R;
  struct Local {
    std::vector<std::int64_t> rows;
    std::vector<std::int32_t> src, pos, rest;
    std::vector<std::int64_t> rest_len;
    std::int64_t panel_edges = 0;
  };
  std::vector<Local> loc(static_cast<std::size_t>(nc));
  tbb::enumerable_thread_specific<std::vector<std::int32_t>> counters(
      [&] { return std::vector<std::int32_t>(static_cast<std::size_t>(g.n), 0); });
  tbb::parallel_for(
      tbb::blocked_range<std::int64_t>(0, nc, 8), [&](const tbb::blocked_range<std::int64_t>& range) {
        std::vector<std::int32_t>& cnt = counters.local();
        for (std::int64_t c = range.begin(); c < range.end(); ++c) {
          Local& L = loc[static_cast<std::size_t>(c)];
          const std::int64_t r0 = c * R, r1 = std::min(g.n, r0 + R);
          for (std::int64_t i = r0; i < r1; ++i)
            if (!hubs.is_hub(g, i)) L.rows.push_back(i);
          const auto m = static_cast<std::int64_t>(L.rows.size());
          if (m < 2) continue;
          const std::int64_t need = std::max<std::int64_t>(2, (m * share_pct + 99) / 100);
          for (const std::int64_t i : L.rows)
            for (std::int64_t e = g.row_ptr[i]; e < g.row_ptr[i + 1]; ++e) ++cnt[g.col[e]];
          for (const std::int64_t i : L.rows)
            for (std::int64_t e = g.row_ptr[i]; e < g.row_ptr[i + 1]; ++e) {
              const std::int32_t j = g.col[e];
              if (cnt[j] >= need) {
                L.src.push_back(j);
                cnt[j] = INT_MIN / 2;  // taken: not collected twice
              }
            }
          for (const std::int64_t i : L.rows)
            for (std::int64_t e = g.row_ptr[i]; e < g.row_ptr[i + 1]; ++e) cnt[g.col[e]] = 0;
          if (static_cast<std::int64_t>(L.src.size()) < kMinSources) {
            L.src.clear();
            continue;
          }
          std::sort(L.src.begin(), L.src.end());
          const auto S = static_cast<std::int64_t>(L.src.size());
          const std::int64_t base = g.row_ptr[L.rows.front()], span = g.row_ptr[L.rows.back() + 1] - base;
          if (span >= (std::int64_t{1} << 31) / 1024) {  // slot * H must fit int32 (H <= 1024)
            L.src.clear();
            continue;
          }
          const std::int64_t RP = padded_rows(m);
          L.pos.assign(static_cast<std::size_t>(S * RP), -1);
          for (std::int64_t r = 0; r < m; ++r) {
            const std::int64_t i = L.rows[static_cast<std::size_t>(r)], rb = g.row_ptr[i];
            std::int64_t t = 0, rest = 0;
            for (std::int64_t e = rb; e < g.row_ptr[i + 1]; ++e) {
              const std::int32_t j = g.col[e];
              while (t < S && L.src[static_cast<std::size_t>(t)] < j) ++t;
              if (t < S && L.src[static_cast<std::size_t>(t)] == j) {
                L.pos[static_cast<std::size_t>(t * RP + r)] = static_cast<std::int32_t>(e - base);
                ++L.panel_edges;
              } else {
                L.rest.push_back(static_cast<std::int32_t>(e - rb));
                ++rest;
              }
            }
            L.rest_len.push_back(rest);
          }
        }
      });
  // Concatenate the chunks' pieces.
  p.chunks.resize(static_cast<std::size_t>(nc));
  std::int64_t n_rows = 0, n_src = 0, n_pos = 0, n_rest = 0;
  for (std::int64_t c = 0; c < nc; ++c) {
    const Local& L = loc[static_cast<std::size_t>(c)];
    PanelPlan::Chunk& ch = p.chunks[static_cast<std::size_t>(c)];
    ch.rows_off = n_rows;
    ch.m = static_cast<std::int32_t>(L.rows.size());
    ch.S = static_cast<std::int32_t>(L.src.size());
    ch.src_off = n_src;
    ch.pos_off = n_pos;
    n_rows += ch.m;
    n_src += ch.S;
    n_pos += static_cast<std::int64_t>(L.pos.size());
    n_rest += static_cast<std::int64_t>(L.rest.size());
    p.panel_edges += L.panel_edges;
    p.panel_slots += static_cast<std::int64_t>(ch.m) * ch.S;
  }
  p.rows.reserve(static_cast<std::size_t>(n_rows));
  p.src.reserve(static_cast<std::size_t>(n_src));
  p.pos.reserve(static_cast<std::size_t>(n_pos));
  p.rest.reserve(static_cast<std::size_t>(n_rest));
  p.rest_ptr.reserve(static_cast<std::size_t>(n_rows + 1));
  p.rest_ptr.push_back(0);
  for (Local& L : loc) {
    p.rows.insert(p.rows.end(), L.rows.begin(), L.rows.end());
    p.src.insert(p.src.end(), L.src.begin(), L.src.end());
    p.pos.insert(p.pos.end(), L.pos.begin(), L.pos.end());
    p.rest.insert(p.rest.end(), L.rest.begin(), L.rest.end());
    if (L.src.empty()) {
      for (std::size_t r = 0; r < L.rows.size(); ++r) p.rest_ptr.push_back(p.rest_ptr.back());
    } else {
      for (const std::int64_t len : L.rest_len) p.rest_ptr.push_back(p.rest_ptr.back() + len);
    }
    L = Local{};
  }
  // Panels pay when they cover a tenth of the edges or more; below that the per-row path is kept.
  p.worthwhile = p.panel_edges > 0 && p.panel_edges * 10 >= g.nnz;
  return p;
}

// ---------------------------------------------------------------------------------------------
// The plan cache.

namespace {

struct Snapshot {  // immutable once published
  const std::int64_t* row_ptr_key;
  const std::int32_t* col_key;
  std::int64_t n, nnz, hub_threshold, rows_per_chunk, share_pct;
  std::vector<std::int64_t> row_ptr;  // copies of the graph, compared on every lookup
  std::vector<std::int32_t> col;
  std::shared_ptr<const PanelPlan> plan;
};

struct PlanCache {
  std::mutex mu;
  std::vector<std::shared_ptr<const Snapshot>> entries;  // most recently used last
};

constexpr std::size_t kCacheEntries = 4;

PlanCache& plan_cache() {
  static PlanCache* c = new PlanCache;  // never destroyed: lookups may run during exit
  return *c;
}

template <class T>
bool same_array(const T* a, const T* b, std::int64_t count) {
  constexpr std::int64_t kBlock = 1 << 18;
  if (count <= kBlock) return std::memcmp(a, b, static_cast<std::size_t>(count) * sizeof(T)) == 0;
  std::atomic<bool> differs{false};
  tbb::parallel_for(std::int64_t{0}, (count + kBlock - 1) / kBlock, [&](std::int64_t blk) {
    if (differs.load(std::memory_order_relaxed)) return;
    const std::int64_t lo = blk * kBlock, len = std::min(kBlock, count - lo);
    if (std::memcmp(a + lo, b + lo, static_cast<std::size_t>(len) * sizeof(T)) != 0)
      differs.store(true, std::memory_order_relaxed);
  });
  return !differs.load();
}

}  // namespace

std::shared_ptr<const PanelPlan> panel_plan(const CsrView& g, const HubRows& hubs) {
  if (g.device != Device::cpu || g.n < 2 || g.nnz == 0 || env_flag("DIFFUSER_NO_PANELS")) return nullptr;
  const std::int64_t R = env_int("DIFFUSER_PANEL_ROWS", 32, 16, 32) == 16 ? 16 : 32;
  const std::int64_t share = env_int("DIFFUSER_PANEL_SHARE", 50, 1, 100);
  PlanCache& c = plan_cache();
  auto same_key = [&](const Snapshot& s) {
    return s.row_ptr_key == g.row_ptr && s.col_key == g.col && s.n == g.n && s.nnz == g.nnz &&
           s.hub_threshold == hubs.threshold && s.rows_per_chunk == R && s.share_pct == share;
  };
  std::shared_ptr<const Snapshot> hit;
  {
    std::lock_guard<std::mutex> lock(c.mu);
    for (std::size_t t = 0; t < c.entries.size(); ++t)
      if (same_key(*c.entries[t])) {
        hit = c.entries[t];
        c.entries.erase(c.entries.begin() + static_cast<std::ptrdiff_t>(t));
        c.entries.push_back(hit);
        break;
      }
  }
  // Same addresses and sizes are not the same graph: compare the contents (outside the lock; the
  // snapshot is immutable and kept alive by `hit`).
  if (hit && same_array(hit->row_ptr.data(), g.row_ptr, g.n + 1) && same_array(hit->col.data(), g.col, g.nnz))
    return hit->plan->worthwhile ? hit->plan : nullptr;

  auto snap = std::make_shared<Snapshot>();
  snap->row_ptr_key = g.row_ptr;
  snap->col_key = g.col;
  snap->n = g.n;
  snap->nnz = g.nnz;
  snap->hub_threshold = hubs.threshold;
  snap->rows_per_chunk = R;
  snap->share_pct = share;
  snap->row_ptr.assign(g.row_ptr, g.row_ptr + g.n + 1);
  snap->col.assign(g.col, g.col + g.nnz);
  snap->plan = std::make_shared<const PanelPlan>(build_panel_plan(g, hubs, R, share));
  std::shared_ptr<const PanelPlan> plan = snap->plan;
  {
    std::lock_guard<std::mutex> lock(c.mu);
    std::erase_if(c.entries, [&](const std::shared_ptr<const Snapshot>& s) { return same_key(*s); });
    c.entries.push_back(std::move(snap));
    if (c.entries.size() > kCacheEntries) c.entries.erase(c.entries.begin());
  }
  return plan->worthwhile ? plan : nullptr;
}

std::int64_t panel_cache_entries() {
  PlanCache& c = plan_cache();
  std::lock_guard<std::mutex> lock(c.mu);
  return static_cast<std::int64_t>(c.entries.size());
}

void panel_cache_clear() {
  PlanCache& c = plan_cache();
  std::lock_guard<std::mutex> lock(c.mu);
  c.entries.clear();
}

// ---------------------------------------------------------------------------------------------
// Kernels.

namespace {

using namespace simd;

// Accumulator registers a micro-kernel may use (32 zmm with AVX-512, 16 ymm otherwise).
inline constexpr int kAccRegs = kLanes == 16 ? 16 : 8;
inline constexpr int kScoreRegs = kLanes == 16 ? 24 : 12;

// acc[r*acc_rs + :D] (+)= sum_s wt[s*RP + r] * x_{src[s]} (one head) for rows r < m. wt holds RP
// rows per source, zero-padded. Register block: RB rows x D; X and wt of a source block stay in L1.
template <int D>
void panel_hop_head(const float* wt, std::int64_t RP, std::int64_t S, const float* xh, std::int64_t x_sn,
                    const std::int32_t* src, std::int64_t m, float* acc, std::int64_t acc_rs, bool add) {
  constexpr int C = D / kLanes;
  constexpr int RB = std::max(1, std::min(8, kAccRegs / C));
  for (std::int64_t r0 = 0; r0 < m; r0 += RB) {
    Vec a[RB][C];
#pragma GCC unroll 8
    for (int rr = 0; rr < RB; ++rr)
#pragma GCC unroll 8
      for (int c = 0; c < C; ++c) a[rr][c] = zero();
    const float* ws = wt + r0;
    for (std::int64_t s = 0; s < S; ++s, ws += RP) {
      const float* xs = xh + static_cast<std::int64_t>(src[s]) * x_sn;
      Vec xv[C];
#pragma GCC unroll 8
      for (int c = 0; c < C; ++c) xv[c] = load(xs + c * kLanes);
#pragma GCC unroll 8
      for (int rr = 0; rr < RB; ++rr) {
        const float wv = ws[rr];  // scalar * vector: one broadcast (splat() builds lane by lane here)
#pragma GCC unroll 8
        for (int c = 0; c < C; ++c) a[rr][c] += wv * xv[c];
      }
    }
#pragma GCC unroll 8
    for (int rr = 0; rr < RB; ++rr) {
      if (r0 + rr >= m) break;
      float* o = acc + (r0 + rr) * acc_rs;
#pragma GCC unroll 8
      for (int c = 0; c < C; ++c) store(o + c * kLanes, add ? load(o + c * kLanes) + a[rr][c] : a[rr][c]);
    }
  }
}

// slot_h[t] = slot[t] * H (or -1) for the count entries of a chunk's slot table.
inline void scale_slots(const std::int32_t* slot, std::int64_t count, std::int64_t H, std::int32_t* slot_h) {
  const auto h32 = static_cast<std::int32_t>(H);
  for (std::int64_t t = 0; t < count; ++t) slot_h[t] = slot[t] >= 0 ? slot[t] * h32 : -1;
}

#if defined(__AVX512F__) && !defined(DIFFUSER_SIMD8)
// GCC 12 warns that the intrinsics' internal _mm512_undefined_ps() "may be used uninitialized".
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
// In-register 16 x 16 transpose: x[j] lane i <- x[i] lane j (64 shuffles).
inline void transpose16(__m512 x[16]) {
  __m512 t[16], u[16];
  for (int i = 0; i < 8; ++i) {
    t[2 * i] = _mm512_unpacklo_ps(x[2 * i], x[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_ps(x[2 * i], x[2 * i + 1]);
  }
  for (int q = 0; q < 4; ++q) {  // rows 4q..4q+3: u[4q + c] lane L = column 4L + c
    const __m512d t0 = _mm512_castps_pd(t[4 * q]), t1 = _mm512_castps_pd(t[4 * q + 1]);
    const __m512d t2 = _mm512_castps_pd(t[4 * q + 2]), t3 = _mm512_castps_pd(t[4 * q + 3]);
    u[4 * q] = _mm512_castpd_ps(_mm512_unpacklo_pd(t0, t2));
    u[4 * q + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(t0, t2));
    u[4 * q + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(t1, t3));
    u[4 * q + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(t1, t3));
  }
  for (int c = 0; c < 4; ++c) {
    const __m512 a = _mm512_shuffle_f32x4(u[c], u[4 + c], 0x44),
                 b = _mm512_shuffle_f32x4(u[c], u[4 + c], 0xEE);
    const __m512 a2 = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0x44);
    const __m512 b2 = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0xEE);
    x[c] = _mm512_shuffle_f32x4(a, a2, 0x88);
    x[4 + c] = _mm512_shuffle_f32x4(a, a2, 0xDD);
    x[8 + c] = _mm512_shuffle_f32x4(b, b2, 0x88);
    x[12 + c] = _mm512_shuffle_f32x4(b, b2, 0xDD);
  }
}
#pragma GCC diagnostic pop
#endif

// Packs the panel weights of sources [s0, s0 + ns) for every head, transposed:
// wt[h*HS + s*RP + r] = wb[slot_h[(s0 + s)*RP + r] + h], 0 where the slot is -1.
inline void pack_weights(const float* wb, const std::int32_t* slot_h, std::int64_t s0, std::int64_t ns,
                         std::int64_t RP, std::int64_t H, float* wt, std::int64_t HS) {
#if defined(__AVX512F__) && !defined(DIFFUSER_SIMD8)
  for (std::int64_t h0 = 0; h0 < H; h0 += 16) {
    const int nh = static_cast<int>(std::min<std::int64_t>(16, H - h0));
    const __mmask16 hmask = static_cast<__mmask16>((1u << nh) - 1u);
    for (std::int64_t s = 0; s < ns; ++s)
      for (std::int64_t r0 = 0; r0 < RP; r0 += 16) {
        const std::int32_t* sl = slot_h + (s0 + s) * RP + r0;
        __m512 x[16];
        for (int j = 0; j < 16; ++j)
          x[j] = _mm512_maskz_loadu_ps(sl[j] >= 0 ? hmask : __mmask16{0}, wb + (sl[j] >= 0 ? sl[j] : 0) + h0);
        transpose16(x);
        for (int j = 0; j < nh; ++j) _mm512_storeu_ps(wt + (h0 + j) * HS + s * RP + r0, x[j]);
      }
  }
#else
  for (std::int64_t s = 0; s < ns; ++s)
    for (std::int64_t r = 0; r < RP; ++r) {
      const std::int32_t sl = slot_h[(s0 + s) * RP + r];
      for (std::int64_t h = 0; h < H; ++h) wt[h * HS + s * RP + r] = sl >= 0 ? wb[sl + h] : 0.0f;
    }
#endif
}

// The reverse for scores: wb[slot_h[(s0 + s)*RP + r] + h] = tile[h*HS + s*RP + r] * scale where the
// slot is not -1.
inline void unpack_scores(float* wb, const std::int32_t* slot_h, std::int64_t s0, std::int64_t ns,
                          std::int64_t RP, std::int64_t H, const float* tile, std::int64_t HS, float scale) {
#if defined(__AVX512F__) && !defined(DIFFUSER_SIMD8)
  const __m512 sc = _mm512_set1_ps(scale);
  for (std::int64_t h0 = 0; h0 < H; h0 += 16) {
    const int nh = static_cast<int>(std::min<std::int64_t>(16, H - h0));
    const __mmask16 hmask = static_cast<__mmask16>((1u << nh) - 1u);
    for (std::int64_t s = 0; s < ns; ++s)
      for (std::int64_t r0 = 0; r0 < RP; r0 += 16) {
        const std::int32_t* sl = slot_h + (s0 + s) * RP + r0;
        __m512 x[16];
        for (int j = 0; j < 16; ++j)
          x[j] = j < nh ? _mm512_loadu_ps(tile + (h0 + j) * HS + s * RP + r0) : _mm512_setzero_ps();
        transpose16(x);
        for (int j = 0; j < 16; ++j)
          if (sl[j] >= 0) _mm512_mask_storeu_ps(wb + sl[j] + h0, hmask, _mm512_mul_ps(x[j], sc));
      }
  }
#else
  for (std::int64_t s = 0; s < ns; ++s)
    for (std::int64_t r = 0; r < RP; ++r) {
      const std::int32_t sl = slot_h[(s0 + s) * RP + r];
      if (sl >= 0)
        for (std::int64_t h = 0; h < H; ++h) wb[sl + h] = tile[h * HS + s * RP + r] * scale;
    }
#endif
}

// accumulate_edges over a list of edges (base + off[t]) instead of a range.
template <int D>
void accumulate_list(const float* w, std::int64_t H, const float* x, std::int64_t x_sn, std::int64_t x_sh,
                     const std::int32_t* col, std::int64_t base, const std::int32_t* off, std::int64_t count,
                     float* acc) {
  constexpr int C = D / kLanes8;
  std::int64_t t = 0;
  for (; t + 4 <= count; t += 4) {
    if (t + 12 <= count) {
      for (int u = 8; u < 12; ++u) __builtin_prefetch(x + col[base + off[t + u]] * x_sn);
    }
    const std::int64_t e0 = base + off[t], e1 = base + off[t + 1], e2 = base + off[t + 2],
                       e3 = base + off[t + 3];
    const float* x0 = x + col[e0] * x_sn;
    const float* x1 = x + col[e1] * x_sn;
    const float* x2 = x + col[e2] * x_sn;
    const float* x3 = x + col[e3] * x_sn;
    for (std::int64_t h = 0; h < H; ++h) {
      const Vec8 w0 = splat8(w[e0 * H + h]), w1 = splat8(w[e1 * H + h]), w2 = splat8(w[e2 * H + h]),
                 w3 = splat8(w[e3 * H + h]);
      const std::int64_t o0 = h * x_sh;
      float* ah = acc + h * D;
      for (int c = 0; c < C; ++c) {
        const std::int64_t o = o0 + c * kLanes8;
        store8(ah + c * kLanes8, load8(ah + c * kLanes8) + w0 * load8(x0 + o) + w1 * load8(x1 + o) +
                                     w2 * load8(x2 + o) + w3 * load8(x3 + o));
      }
    }
  }
  for (; t < count; ++t) {
    const std::int64_t e = base + off[t];
    const float* xr = x + col[e] * x_sn;
    for (std::int64_t h = 0; h < H; ++h) {
      const Vec8 we = splat8(w[e * H + h]);
      float* ah = acc + h * D;
      for (int c = 0; c < C; ++c)
        store8(ah + c * kLanes8, load8(ah + c * kLanes8) + we * load8(xr + h * x_sh + c * kLanes8));
    }
  }
}

// score_row over a list of edges (base + off[t]).
template <int D>
void score_list(const float* q_row, std::int64_t q_sh, const float* k, std::int64_t k_sn, std::int64_t k_sh,
                const std::int32_t* col, std::int64_t base, const std::int32_t* off, std::int64_t count,
                std::int64_t H, float scale, float* w) {
  constexpr int C = D / kLanes;
  std::int64_t t = 0;
  for (; t + 4 <= count; t += 4) {
    if (t + 12 <= count) {
      for (int u = 8; u < 12; ++u) __builtin_prefetch(k + col[base + off[t + u]] * k_sn);
    }
    const std::int64_t e0 = base + off[t], e1 = base + off[t + 1], e2 = base + off[t + 2],
                       e3 = base + off[t + 3];
    const float* k0 = k + col[e0] * k_sn;
    const float* k1 = k + col[e1] * k_sn;
    const float* k2 = k + col[e2] * k_sn;
    const float* k3 = k + col[e3] * k_sn;
    for (std::int64_t h = 0; h < H; ++h) {
      const float* qh = q_row + h * q_sh;
      const std::int64_t o0 = h * k_sh;
      Vec a0 = zero(), a1 = zero(), a2 = zero(), a3 = zero();
      for (int c = 0; c < C; ++c) {
        const Vec qv = load(qh + c * kLanes);
        const std::int64_t o = o0 + c * kLanes;
        a0 += qv * load(k0 + o);
        a1 += qv * load(k1 + o);
        a2 += qv * load(k2 + o);
        a3 += qv * load(k3 + o);
      }
      const Vec4 sc = hsum4(a0, a1, a2, a3) * scale;
      w[e0 * H + h] = sc[0];
      w[e1 * H + h] = sc[1];
      w[e2 * H + h] = sc[2];
      w[e3 * H + h] = sc[3];
    }
  }
  for (; t < count; ++t) {
    const std::int64_t e = base + off[t];
    const float* kr = k + col[e] * k_sn;
    for (std::int64_t h = 0; h < H; ++h) {
      const float* qh = q_row + h * q_sh;
      const float* kh = kr + h * k_sh;
      Vec acc = zero();
      for (int c = 0; c < C; ++c) acc += load(qh + c * kLanes) * load(kh + c * kLanes);
      w[e * H + h] = hsum(acc) * scale;
    }
  }
}

// tile[sb*RPq + r] = sum_d qt[d*RPq + r] * k_{src[sb]}[d] for sb < nb (one head): the chunk's
// transposed queries times the panel's keys, V vectors of rows by SB sources in registers.
template <int D, int V>
void panel_scores_block(const float* qt, std::int64_t RPq, const float* kh, std::int64_t k_sn,
                        const std::int32_t* src, std::int64_t nb, float* tile) {
  constexpr int SB = kScoreRegs / V;
  const float* kp[SB];
#pragma GCC unroll 24
  for (int sb = 0; sb < SB; ++sb)
    kp[sb] = kh + static_cast<std::int64_t>(src[std::min<std::int64_t>(sb, nb - 1)]) * k_sn;
  Vec a[SB][V];
#pragma GCC unroll 24
  for (int sb = 0; sb < SB; ++sb)
#pragma GCC unroll 4
    for (int v = 0; v < V; ++v) a[sb][v] = zero();
  for (int d = 0; d < D; ++d) {
    Vec qv[V];
#pragma GCC unroll 4
    for (int v = 0; v < V; ++v) qv[v] = load(qt + d * RPq + v * kLanes);
#pragma GCC unroll 24
    for (int sb = 0; sb < SB; ++sb) {
      const float kv = kp[sb][d];
#pragma GCC unroll 4
      for (int v = 0; v < V; ++v) a[sb][v] += kv * qv[v];
    }
  }
#pragma GCC unroll 24
  for (int sb = 0; sb < SB; ++sb)
#pragma GCC unroll 4
    for (int v = 0; v < V; ++v) store(tile + sb * RPq + v * kLanes, a[sb][v]);
}

// Scores of panel sources [0, ns) for one head: tile[s*RP + r] (rows of register blocks past ns are
// written too: the tile has room for round_up(ns, SB) sources).
template <int D, int V>
void panel_scores_head(const float* qt, std::int64_t RP, const float* kh, std::int64_t k_sn,
                       const std::int32_t* src, std::int64_t ns, float* tile) {
  constexpr int SB = kScoreRegs / V;
  for (std::int64_t s0 = 0; s0 < ns; s0 += SB)
    panel_scores_block<D, V>(qt, RP, kh, k_sn, src + s0, std::min<std::int64_t>(SB, ns - s0), tile + s0 * RP);
}

template <class Body>
void for_each_chunk(const PanelPlan& plan, Body&& body) {
  tbb::parallel_for(
      tbb::blocked_range<std::size_t>(0, plan.chunks.size(), 1),
      [&](const tbb::blocked_range<std::size_t>& r) {
        for (std::size_t c = r.begin(); c < r.end(); ++c) body(plan.chunks[c]);
      },
      tbb::simple_partitioner());
}

}  // namespace

template <int D>
void panel_gather_axpby(const CsrView& g, const PanelPlan& plan, const float* w, float a,
                        Tensor3View<const float> x, float b, Tensor3View<const float> y,
                        Tensor3View<float> out) {
  const std::int64_t H = x.h, HD = x.h * D;
  for_each_chunk(plan, [&](const PanelPlan::Chunk& ch) {
    const std::int64_t* rows = plan.rows.data() + ch.rows_off;
    const std::int64_t m = ch.m;
    if (ch.S == 0) {  // no panel: the per-row path
      float* acc = thread_scratch(0, static_cast<std::size_t>(HD));
      for (std::int64_t r = 0; r < m; ++r) {
        const std::int64_t i = rows[r];
        gather_row<D>(w, H, x.data, x.stride_n, x.stride_h, g.col, g.row_ptr[i], g.row_ptr[i + 1], a,
                      out.row(i), out.stride_h, b, b != 0.0f ? y.row(i) : nullptr, y.stride_h, acc);
      }
      return;
    }
    const std::int64_t S = ch.S, RP = padded_rows(m);
    const std::int32_t* src = plan.src.data() + ch.src_off;
    float* acc = thread_scratch(0, static_cast<std::size_t>(m * HD));
    const std::int64_t HS = kSourceBlock * RP + 16;  // per-head stride of the packed tile (no 4K aliasing)
    float* wt = thread_scratch(1, static_cast<std::size_t>(H * HS + S * RP));
    auto* slot_h = reinterpret_cast<std::int32_t*>(wt + H * HS);
    scale_slots(plan.pos.data() + ch.pos_off, S * RP, H, slot_h);
    const float* wb = w + g.row_ptr[rows[0]] * H;
    for (std::int64_t s0 = 0; s0 < S; s0 += kSourceBlock) {
      const std::int64_t ns = std::min(kSourceBlock, S - s0);
      pack_weights(wb, slot_h, s0, ns, RP, H, wt, HS);
      for (std::int64_t h = 0; h < H; ++h)
        panel_hop_head<D>(wt + h * HS, RP, ns, x.data + h * x.stride_h, x.stride_n, src + s0, m, acc + h * D,
                          HD, s0 > 0);
    }
    for (std::int64_t r = 0; r < m; ++r) {
      const std::int64_t i = rows[r], t = ch.rows_off + r;
      float* ar = acc + r * HD;
      accumulate_list<D>(w, H, x.data, x.stride_n, x.stride_h, g.col, g.row_ptr[i],
                         plan.rest.data() + plan.rest_ptr[t], plan.rest_ptr[t + 1] - plan.rest_ptr[t], ar);
      finish_row<D>(ar, H, a, out.row(i), out.stride_h, b, b != 0.0f ? y.row(i) : nullptr, y.stride_h);
    }
  });
}

template <int D>
void panel_edge_attention(const CsrView& g, const PanelPlan& plan, Tensor3View<const float> q,
                          Tensor3View<const float> k, float scale, const std::uint8_t* mask, float* w) {
  const std::int64_t H = q.h;
  for_each_chunk(plan, [&](const PanelPlan::Chunk& ch) {
    const std::int64_t* rows = plan.rows.data() + ch.rows_off;
    const std::int64_t m = ch.m;
    float* sm = thread_scratch(0, static_cast<std::size_t>(softmax_scratch_floats(H)));
    if (ch.S > 0) {
      const std::int64_t S = ch.S, RP = padded_rows(m);
      const std::int64_t HS = (kSourceBlock + kScoreRegs) * RP + 16;  // per-head stride of the score tile
      const std::int32_t* src = plan.src.data() + ch.src_off;
      float* qt = thread_scratch(1, static_cast<std::size_t>(H * D * RP + H * HS + S * RP));
      float* tile = qt + H * D * RP;
      auto* slot_h = reinterpret_cast<std::int32_t*>(tile + H * HS);
      scale_slots(plan.pos.data() + ch.pos_off, S * RP, H, slot_h);
      float* wb = w + g.row_ptr[rows[0]] * H;
      for (std::int64_t h = 0; h < H;
           ++h) {  // the chunk's queries, transposed per head: qt[(h*D + d)*RP + r]
        float* qth = qt + h * D * RP;
        for (std::int64_t r = 0; r < RP; ++r) {
          if (r < m) {
            const float* qr = q.row(rows[r]) + h * q.stride_h;
            for (int d = 0; d < D; ++d) qth[d * RP + r] = qr[d];
          } else {
            for (int d = 0; d < D; ++d) qth[d * RP + r] = 0.0f;
          }
        }
      }
      for (std::int64_t s0 = 0; s0 < S; s0 += kSourceBlock) {
        const std::int64_t ns = std::min(kSourceBlock, S - s0);
        for (std::int64_t h = 0; h < H; ++h) {
          const float* kh = k.data + h * k.stride_h;
          const float* qth = qt + h * D * RP;
          float* th = tile + h * HS;
          switch (RP / kLanes) {
            case 1:
              panel_scores_head<D, 1>(qth, RP, kh, k.stride_n, src + s0, ns, th);
              break;
            case 2:
              panel_scores_head<D, 2>(qth, RP, kh, k.stride_n, src + s0, ns, th);
              break;
            default:
              panel_scores_head<D, 4>(qth, RP, kh, k.stride_n, src + s0, ns, th);
              break;
          }
        }
        unpack_scores(wb, slot_h, s0, ns, RP, H, tile, HS, scale);
      }
    }
    for (std::int64_t r = 0; r < m; ++r) {
      const std::int64_t i = rows[r], t = ch.rows_off + r, b = g.row_ptr[i], e = g.row_ptr[i + 1];
      if (ch.S > 0)
        score_list<D>(q.row(i), q.stride_h, k.data, k.stride_n, k.stride_h, g.col, b,
                      plan.rest.data() + plan.rest_ptr[t], plan.rest_ptr[t + 1] - plan.rest_ptr[t], H, scale,
                      w);
      else
        score_row<D>(q.row(i), q.stride_h, k.data, k.stride_n, k.stride_h, g.col, b, e, H, scale, w);
      softmax_row(w, b, e, H, g.col, mask, i, sm);
    }
  });
}

#define DIFFUSER_PANEL_INSTANTIATE(D)                                                               \
  template void panel_gather_axpby<D>(const CsrView&, const PanelPlan&, const float*, float,        \
                                      Tensor3View<const float>, float, Tensor3View<const float>,    \
                                      Tensor3View<float>);                                          \
  template void panel_edge_attention<D>(const CsrView&, const PanelPlan&, Tensor3View<const float>, \
                                        Tensor3View<const float>, float, const std::uint8_t*, float*);
DIFFUSER_PANEL_INSTANTIATE(16)
DIFFUSER_PANEL_INSTANTIATE(32)
DIFFUSER_PANEL_INSTANTIATE(64)
DIFFUSER_PANEL_INSTANTIATE(128)
#undef DIFFUSER_PANEL_INSTANTIATE

}  // namespace diffuser::cpu

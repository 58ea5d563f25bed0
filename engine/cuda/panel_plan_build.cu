// The GPU panels built on the device (panel_plan.hpp), equal array for array to the host builder:
//   1. per 32-row tile, its non-hub rows m (rows of degree > the hub threshold are left out);
//   2. the non-hub edges as keys (tile << 32 | source), radix-sorted, run-length encoded: a run
//      is a (tile, source) pair and its length the rows of the tile that read the source;
//   3. a tile's panel sources are the runs of length >= max(2, ceil(m / 2)), ascending (fewer than
//      4: no panel; more than 256: the tile keeps its per-row gathers);
//   4. per row, its edges outside the panel (a binary search in the tile's sources), padded to 16,
//      give each tile its list (at most 4096 entries, else no panel);
//   5. scans over the tiles place sources and lists; one copy of the totals to the host sizes the
//      last two arrays, filled per tile and per row.
// Edges are processed in batches of whole tiles, so the sort's memory stays bounded at any N.
#include <algorithm>
#include <vector>

#include <cub/device/device_radix_sort.cuh>
#include <cub/device/device_run_length_encode.cuh>
#include <cub/device/device_scan.cuh>

#include "backend.hpp"
#include "common.cuh"
#include "panel_arrays.hpp"
#include "panel_plan.hpp"
#include "plan.cuh"

namespace diffuser::cuda {

namespace {

constexpr int R = kPanelTileRows;
constexpr int kMinSources = 4;                                     // = the CPU planner's
constexpr std::int64_t kMaxSpan = (std::int64_t{1} << 31) / 1024;  // = the CPU planner's slot bound
constexpr std::int64_t kBatchEdges = std::int64_t{1} << 26;        // keys sorted at once (1 GiB of buffers)

__device__ __forceinline__ bool hub_row(const std::int64_t* rp, std::int64_t i, std::int64_t thr) {
  return rp[i + 1] - rp[i] > thr;
}

// m[t]: non-hub rows of tile t; span_ok[t]: their edges span fewer than kMaxSpan slots.
__global__ void tile_rows(const std::int64_t* rp, std::int64_t n, std::int64_t thr, std::int64_t tiles,
                          std::int32_t* m, std::int8_t* span_ok) {
  const std::int64_t t = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x;
  if (t >= tiles) return;
  int count = 0;
  std::int64_t first = -1, last = -1;
  for (int r = 0; r < R; ++r) {
    const std::int64_t i = t * R + r;
    if (i >= n || hub_row(rp, i, thr)) continue;
    ++count;
    if (first < 0) first = i;
    last = i;
  }
  m[t] = count;
  span_ok[t] = count == 0 || rp[last + 1] - rp[first] < kMaxSpan;
}

// The keys of the edges of rows [row0, row1): (tile << 32) | source, or a sentinel after every real
// key for a hub row's edges. A warp per row.
__global__ void make_keys(const std::int64_t* rp, const std::int32_t* col, std::int64_t row0,
                          std::int64_t row1, std::int64_t thr, std::uint64_t sentinel, std::uint64_t* keys) {
  const std::int64_t warp = (blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x) / 32;
  const int lane = threadIdx.x % 32;
  const std::int64_t i = row0 + warp;
  if (i >= row1) return;
  const std::int64_t base = rp[row0], rb = rp[i], re = rp[i + 1];
  const bool hub = re - rb > thr;
  const std::uint64_t tile = static_cast<std::uint64_t>(i / R) << 32;
  for (std::int64_t e = rb + lane; e < re; e += 32)
    keys[e - base] = hub ? sentinel : (tile | static_cast<std::uint32_t>(col[e]));
}

// Runs [0, *runs): which are panel sources (flag), and the count per tile.
__global__ void select_runs(const std::uint64_t* key, const std::int32_t* len, const std::int64_t* runs,
                            std::int64_t max_runs, std::int64_t tiles, const std::int32_t* m,
                            std::int32_t* flag, std::int32_t* per_tile) {
  const std::int64_t j = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x;
  if (j >= max_runs) return;
  int take = 0;
  if (j < *runs) {
    const std::int64_t t = static_cast<std::int64_t>(key[j] >> 32);
    if (t < tiles) {
      const int rows = m[t], need = max(2, (rows * 50 + 99) / 100);
      take = rows >= 2 && len[j] >= need;
      if (take) atomicAdd(per_tile + t, 1);
    }
  }
  flag[j] = take;
}

// Appends the selected runs' sources at sel_base + their rank among the selected.
__global__ void compact_sources(const std::uint64_t* key, const std::int32_t* flag, const std::int32_t* rank,
                                std::int64_t max_runs, std::int32_t* sel, std::int64_t sel_base) {
  const std::int64_t j = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x;
  if (j < max_runs && flag[j]) sel[sel_base + rank[j]] = static_cast<std::int32_t>(key[j] & 0xffffffffu);
}

struct TileSources {
  const std::int32_t* sel;    // every tile's selected sources, tile after tile, ascending
  const std::int64_t* start;  // tile t's at sel[start[t] ..)
  const std::int32_t* count;  // how many (the raw count: < kMinSources means no panel)
  const std::int8_t* span_ok;
  __device__ int sources(std::int64_t t) const {
    const int s = count[t];
    return s < kMinSources || !span_ok[t] ? 0 : s;
  }
  __device__ bool candidate(std::int64_t t) const {
    const int s = sources(t);
    return s > 0 && s <= kPanelMaxSources;
  }
  // The panel column of source j in tile t, or -1.
  __device__ int column(std::int64_t t, std::int32_t j) const {
    const std::int32_t* lo = sel + start[t];
    int a = 0, b = count[t];
    while (a < b) {
      const int mid = (a + b) / 2;
      if (lo[mid] < j)
        a = mid + 1;
      else
        b = mid;
    }
    return a < count[t] && lo[a] == j ? a : -1;
  }
};

// Per non-hub row of a candidate tile: its edges outside the panel; per tile: its panel edges.
__global__ void count_rest(const std::int64_t* rp, const std::int32_t* col, std::int64_t n, std::int64_t thr,
                           TileSources ts, std::int32_t* rest, unsigned long long* panel) {
  const std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x;
  if (i >= n) return;
  const std::int64_t t = i / R;
  if (hub_row(rp, i, thr) || !ts.candidate(t)) {
    rest[i] = 0;
    return;
  }
  int outside = 0;
  for (std::int64_t e = rp[i]; e < rp[i + 1]; ++e) outside += ts.column(t, col[e]) < 0;
  rest[i] = outside;
  atomicAdd(panel + t, static_cast<unsigned long long>(rp[i + 1] - rp[i] - outside));
}

// Per tile: the list offsets of its rows (written for every candidate, as the host does), and what
// an accepted tile adds to the sources, the lists and the panel edges (0 for the others).
__global__ void tile_lists(const std::int64_t* rp, std::int64_t n, std::int64_t thr, std::int64_t tiles,
                           TileSources ts, const std::int32_t* rest, const unsigned long long* panel,
                           std::int32_t* rest_off, std::int32_t* add_src, std::int32_t* add_rest,
                           unsigned long long* add_panel) {
  const std::int64_t t = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x;
  if (t > tiles) return;
  add_src[t] = add_rest[t] = 0;
  add_panel[t] = 0;
  if (t == tiles || !ts.candidate(t)) return;  // (the scans' last element)
  std::int32_t* off = rest_off + t * (R + 1);
  int listed = 0;
  for (int r = 0; r < R; ++r) {
    off[r] = listed;
    const std::int64_t i = t * R + r;
    if (i < n && !hub_row(rp, i, thr))
      listed += (rest[i] + kPanelRestPad - 1) / kPanelRestPad * kPanelRestPad;
  }
  off[R] = listed;
  if (listed > kPanelMaxRest) return;
  add_src[t] = (ts.sources(t) + 15) / 16 * 16;
  add_rest[t] = listed;
  add_panel[t] = panel[t];
}

// Totals for the host: sources, listed entries, panel edges, the largest tile's sources and list.
__global__ void totals(const std::int32_t* tile_off, const std::int32_t* rest_base,
                       const std::int32_t* add_src, const std::int32_t* add_rest,
                       const unsigned long long* add_panel, std::int64_t tiles, std::int64_t* out) {
  __shared__ std::int64_t s_panel[256];
  __shared__ int s_src[256], s_rest[256];
  std::int64_t p = 0;
  int ms = 0, mr = 0;
  for (std::int64_t t = threadIdx.x; t < tiles; t += blockDim.x) {
    p += static_cast<std::int64_t>(add_panel[t]);
    ms = max(ms, add_src[t]);
    mr = max(mr, add_rest[t]);
  }
  s_panel[threadIdx.x] = p;
  s_src[threadIdx.x] = ms;
  s_rest[threadIdx.x] = mr;
  __syncthreads();
  if (threadIdx.x != 0) return;
  for (int k = 1; k < blockDim.x; ++k) {
    p += s_panel[k];
    ms = max(ms, s_src[k]);
    mr = max(mr, s_rest[k]);
  }
  out[0] = tile_off[tiles];
  out[1] = rest_base[tiles];
  out[2] = p;
  out[3] = ms;
  out[4] = mr;
}

// The padded source list of every accepted tile (padding repeats its last source). A block per tile.
__global__ void fill_sources(TileSources ts, const std::int32_t* tile_off, std::int64_t tiles,
                             std::int32_t* src) {
  const std::int64_t t = blockIdx.x;
  if (t >= tiles) return;
  const int padded = tile_off[t + 1] - tile_off[t], s = ts.sources(t);
  for (int k = threadIdx.x; k < padded; k += blockDim.x)
    src[tile_off[t] + k] = ts.sel[ts.start[t] + min(k, s - 1)];
}

// Per edge of a non-hub row of an accepted tile: its code, and its list entry when gathered.
__global__ void fill_codes(const std::int64_t* rp, const std::int32_t* col, std::int64_t n, std::int64_t thr,
                           TileSources ts, const std::int32_t* tile_off, const std::int32_t* rest_off,
                           const std::int32_t* rest_base, std::uint16_t* code, std::int32_t* rest_col) {
  const std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x;
  if (i >= n) return;
  const std::int64_t t = i / R;
  if (hub_row(rp, i, thr) || tile_off[t + 1] == tile_off[t]) return;  // not in an accepted tile
  const int r = static_cast<int>(i - t * R), first = rest_off[t * (R + 1) + r];
  int q = 0;
  for (std::int64_t e = rp[i]; e < rp[i + 1]; ++e) {
    const int s = ts.column(t, col[e]);
    if (s >= 0) {
      code[e] = static_cast<std::uint16_t>((r << 8) | s);
    } else {
      code[e] = static_cast<std::uint16_t>(kPanelRest | (first + q));
      rest_col[rest_base[t] + first + q] = col[e];
      ++q;
    }
  }
}

template <class T>
T host_value(const T* d) {
  T v{};
  copy(&v, false, d, true, sizeof v);
  return v;
}

// Exclusive sum of in[0, count) into out (out[count - 1] holds the sum of the first count - 1).
template <class In, class Out>
void exclusive_sum(const In* in, Out* out, std::int64_t count, cudaStream_t stream) {
  std::size_t bytes = 0;
  DIFFUSER_CUDA_CHECK(cub::DeviceScan::ExclusiveSum(nullptr, bytes, in, out, count, stream));
  Buffer<char> temp(static_cast<std::int64_t>(bytes), Device::cuda);
  DIFFUSER_CUDA_CHECK(cub::DeviceScan::ExclusiveSum(temp.data(), bytes, in, out, count, stream));
}

int bits_for(std::uint64_t v) {
  int b = 0;
  while (b < 64 && (v >> b) != 0) ++b;
  return b;
}

}  // namespace

GpuPanels build_panels_on_device(const CsrView& g, std::int64_t thr) {
  if (g.n < 2 || g.nnz == 0) return {};
  const cudaStream_t stream = current_stream();
  const std::int64_t n = g.n, tiles = (n + R - 1) / R;
  constexpr int kB = 256;

  Buffer<std::int32_t> m(tiles, Device::cuda), per_tile(tiles, Device::cuda);
  Buffer<std::int8_t> span_ok(tiles, Device::cuda);
  per_tile.zero();
  tile_rows<<<blocks_for(tiles, kB), kB, 0, stream>>>(g.row_ptr, n, thr, tiles, m.data(), span_ok.data());
  DIFFUSER_CUDA_LAUNCHED("tile_rows");

  // Row offsets at tile boundaries, for the batches (one copy of row_ptr's tile starts).
  std::vector<std::int64_t> rp(static_cast<std::size_t>(tiles + 1));
  {
    Buffer<std::int64_t> starts(tiles + 1, Device::cuda);
    DIFFUSER_CUDA_CHECK(cudaMemcpy2DAsync(starts.data(), sizeof(std::int64_t), g.row_ptr,
                                          R * sizeof(std::int64_t), sizeof(std::int64_t),
                                          static_cast<std::size_t>(tiles), cudaMemcpyDeviceToDevice, stream));
    DIFFUSER_CUDA_CHECK(cudaMemcpyAsync(starts.data() + tiles, g.row_ptr + n, sizeof(std::int64_t),
                                        cudaMemcpyDeviceToDevice, stream));
    copy(rp.data(), false, starts.data(), true, rp.size() * sizeof(std::int64_t));
  }

  // Steps 2-3 per batch of tiles: the selected sources, tile after tile.
  const std::uint64_t sentinel = static_cast<std::uint64_t>(tiles) << 32;
  const int end_bit = 32 + bits_for(static_cast<std::uint64_t>(tiles));
  Buffer<std::int32_t> sel(std::max<std::int64_t>(1, std::min(g.nnz, kBatchEdges)), Device::cuda);
  std::int64_t sel_count = 0;
  for (std::int64_t t0 = 0; t0 < tiles;) {
    std::int64_t t1 = t0 + 1;
    while (t1 < tiles &&
           rp[static_cast<std::size_t>(t1 + 1)] - rp[static_cast<std::size_t>(t0)] <= kBatchEdges)
      ++t1;
    const std::int64_t row0 = t0 * R, row1 = std::min(n, t1 * R);
    const std::int64_t e0 = rp[static_cast<std::size_t>(t0)], edges = rp[static_cast<std::size_t>(t1)] - e0;
    if (edges > 0) {
      Buffer<std::uint64_t> keys(edges, Device::cuda), sorted(edges, Device::cuda),
          unique(edges, Device::cuda);
      Buffer<std::int32_t> len(edges, Device::cuda), flag(edges, Device::cuda), rank(edges, Device::cuda);
      Buffer<std::int64_t> runs(1, Device::cuda);
      make_keys<<<blocks_for((row1 - row0) * 32, kB), kB, 0, stream>>>(g.row_ptr, g.col, row0, row1, thr,
                                                                       sentinel, keys.data());
      DIFFUSER_CUDA_LAUNCHED("make_keys");
      std::size_t bytes = 0;
      DIFFUSER_CUDA_CHECK(cub::DeviceRadixSort::SortKeys(nullptr, bytes, keys.data(), sorted.data(), edges, 0,
                                                         end_bit, stream));
      {
        Buffer<char> temp(static_cast<std::int64_t>(bytes), Device::cuda);
        DIFFUSER_CUDA_CHECK(cub::DeviceRadixSort::SortKeys(temp.data(), bytes, keys.data(), sorted.data(),
                                                           edges, 0, end_bit, stream));
      }
      bytes = 0;
      DIFFUSER_CUDA_CHECK(cub::DeviceRunLengthEncode::Encode(nullptr, bytes, sorted.data(), unique.data(),
                                                             len.data(), runs.data(), edges, stream));
      {
        Buffer<char> temp(static_cast<std::int64_t>(bytes), Device::cuda);
        DIFFUSER_CUDA_CHECK(cub::DeviceRunLengthEncode::Encode(
            temp.data(), bytes, sorted.data(), unique.data(), len.data(), runs.data(), edges, stream));
      }
      select_runs<<<blocks_for(edges, kB), kB, 0, stream>>>(unique.data(), len.data(), runs.data(), edges,
                                                            tiles, m.data(), flag.data(), per_tile.data());
      DIFFUSER_CUDA_LAUNCHED("select_runs");
      exclusive_sum(flag.data(), rank.data(), edges, stream);
      const std::int64_t taken = static_cast<std::int64_t>(host_value(rank.data() + edges - 1)) +
                                 host_value(flag.data() + edges - 1);
      if (sel_count + taken > sel.size()) {  // grow the list of selected sources
        Buffer<std::int32_t> bigger(std::max(sel_count + taken, sel.size() * 2), Device::cuda);
        if (sel_count > 0) device_copy(bigger.data(), Device::cuda, sel.data(), Device::cuda, sel_count * 4);
        sel = std::move(bigger);
      }
      compact_sources<<<blocks_for(edges, kB), kB, 0, stream>>>(unique.data(), flag.data(), rank.data(),
                                                                edges, sel.data(), sel_count);
      DIFFUSER_CUDA_LAUNCHED("compact_sources");
      sel_count += taken;
    }
    t0 = t1;
  }

  // Step 4: each tile's sources start, the rows' gathered edges, the tiles' lists.
  Buffer<std::int64_t> start(tiles, Device::cuda);
  exclusive_sum(per_tile.data(), start.data(), tiles, stream);
  const TileSources ts{sel.data(), start.data(), per_tile.data(), span_ok.data()};
  Buffer<std::int32_t> rest(n, Device::cuda);
  Buffer<unsigned long long> panel(tiles, Device::cuda), add_panel(tiles + 1, Device::cuda);
  panel.zero();
  count_rest<<<blocks_for(n, kB), kB, 0, stream>>>(g.row_ptr, g.col, n, thr, ts, rest.data(), panel.data());
  DIFFUSER_CUDA_LAUNCHED("count_rest");
  auto arrays = std::make_shared<PanelArrays>();
  arrays->rest_off = Buffer<std::int32_t>(tiles * (R + 1), Device::cuda);
  arrays->rest_off.zero();
  Buffer<std::int32_t> add_src(tiles + 1, Device::cuda), add_rest(tiles + 1, Device::cuda);
  tile_lists<<<blocks_for(tiles + 1, kB), kB, 0, stream>>>(g.row_ptr, n, thr, tiles, ts, rest.data(),
                                                           panel.data(), arrays->rest_off.data(),
                                                           add_src.data(), add_rest.data(), add_panel.data());
  DIFFUSER_CUDA_LAUNCHED("tile_lists");

  // Step 5: placement, the totals on the host, then sources, codes and lists.
  arrays->tile_off = Buffer<std::int32_t>(tiles + 1, Device::cuda);
  arrays->rest_base = Buffer<std::int32_t>(tiles + 1, Device::cuda);
  exclusive_sum(add_src.data(), arrays->tile_off.data(), tiles + 1, stream);
  exclusive_sum(add_rest.data(), arrays->rest_base.data(), tiles + 1, stream);
  Buffer<std::int64_t> sums(5, Device::cuda);
  totals<<<1, 256, 0, stream>>>(arrays->tile_off.data(), arrays->rest_base.data(), add_src.data(),
                                add_rest.data(), add_panel.data(), tiles, sums.data());
  DIFFUSER_CUDA_LAUNCHED("totals");
  std::int64_t t[5];
  copy(t, false, sums.data(), true, sizeof t);  // the one synchronisation of the sizes
  PanelTiles& out = arrays->tiles;
  out.total_sources = t[0];
  out.total_rest = t[1];
  out.panel_edges = t[2];
  out.max_sources = static_cast<int>(t[3]);
  out.max_rest = static_cast<int>(t[4]);
  if (out.panel_edges * 10 < g.nnz) return {};
  DIFFUSER_CHECK(out.total_rest < (std::int64_t{1} << 31) && out.total_sources < (std::int64_t{1} << 31),
                 "panel plan: too many listed edges for int32 offsets");
  arrays->src = Buffer<std::int32_t>(out.total_sources, Device::cuda);
  arrays->rest_col = Buffer<std::int32_t>(out.total_rest, Device::cuda);
  arrays->rest_col.zero();
  arrays->code = Buffer<std::uint16_t>(g.nnz, Device::cuda);
  DIFFUSER_CUDA_CHECK(
      cudaMemsetAsync(arrays->code.data(), 0xff, arrays->code.bytes(), stream));  // kPanelSkip
  fill_sources<<<static_cast<unsigned>(tiles), 64, 0, stream>>>(ts, arrays->tile_off.data(), tiles,
                                                                arrays->src.data());
  DIFFUSER_CUDA_LAUNCHED("fill_sources");
  fill_codes<<<blocks_for(n, kB), kB, 0, stream>>>(g.row_ptr, g.col, n, thr, ts, arrays->tile_off.data(),
                                                   arrays->rest_off.data(), arrays->rest_base.data(),
                                                   arrays->code.data(), arrays->rest_col.data());
  DIFFUSER_CUDA_LAUNCHED("fill_codes");
  return PanelArrays::publish(std::move(arrays));
}

}  // namespace diffuser::cuda

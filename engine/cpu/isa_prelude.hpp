// Everything the per-level kernel sources share with the rest of the program, included before
// isa_begin.hpp switches the target: these headers' inline functions and templates are then
// compiled for the baseline in every level's object file, so the one copy the linker keeps runs
// on every CPU. A kernel source includes this first (through isa_begin.hpp) and nothing shared
// after it.
#pragma once

#include <algorithm>
#include <atomic>
#include <bit>
#include <climits>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>
#include <utility>
#include <vector>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include <tbb/blocked_range.h>
#include <tbb/blocked_range2d.h>
#include <tbb/enumerable_thread_specific.h>
#include <tbb/parallel_for.h>
#include <tbb/parallel_reduce.h>

#include <diffuser/engine/bf16.hpp>
#include <diffuser/engine/buffer.hpp>
#include <diffuser/engine/csr.hpp>
#include <diffuser/engine/error.hpp>
#include <diffuser/engine/ops_backward.hpp>
#include <diffuser/engine/random.hpp>
#include <diffuser/engine/sys.hpp>
#include <diffuser/engine/tensor.hpp>

#include "hub_rows.hpp"
#include "levels.hpp"
#include "panel_plan.hpp"
#include "partition.hpp"
#include "row_pass.hpp"
#include "tuning.hpp"

// Private to graphs/: large output arrays backed by transparent huge pages. On virtual machines
// a first-touch fault of a 4 KiB page costs microseconds, so filling a 1 GB edge array would
// spend more time faulting than computing; 2 MiB pages cut the faults 512-fold.
#pragma once

#include <cstddef>
#include <vector>

namespace diffuser::graphs::detail {

// madvise(MADV_HUGEPAGE) on the 2 MiB-aligned part of [p, p + bytes); a no-op for small ranges,
// on systems without it, or when the kernel refuses (the advice is only a hint).
void advise_huge_pages(void* p, std::size_t bytes);

// Resizes an empty vector to n value-initialised elements, advising huge pages before the
// elements are first touched.
template <class T>
void resize_huge(std::vector<T>& v, std::size_t n) {
  v.reserve(n);
  advise_huge_pages(v.data(), n * sizeof(T));
  v.resize(n);
}

}  // namespace diffuser::graphs::detail

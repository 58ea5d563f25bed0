// Where the package's engine calls run: the module's base context (built once at import from the
// environment, as the CLI does: engine/environment.hpp), or a context with the caller's thread
// count on top of it. Engine calls run with the GIL released.
#pragma once

#include <functional>
#include <optional>

#include <diffuser/engine/context.hpp>

namespace diffuser::python {

// Builds the base context from the environment (DIFFUSER_THREADS, DIFFUSER_CPU_ISA, ...). Called
// once by the module's initialisation; throws Error for a malformed variable.
void init_base_context();
const Context& base_context();

// Runs f in the base context, or with `threads` CPU threads (1..4096) when given, without the GIL.
// f must not touch Python objects.
void run_engine(std::optional<int> threads, const std::function<void()>& f);

// Checks a `threads` argument: None or 1..4096 (the CLI's --threads range).
void check_threads(std::optional<int> threads);

}  // namespace diffuser::python

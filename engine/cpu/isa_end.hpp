// Closes the code of one CPU level (see isa_begin.hpp).
#if DIFFUSER_ISA_PRAGMA
#pragma GCC pop_options
#endif

// gcc's -fsanitize-coverage=trace-cmp also traces float and double
// comparisons, through hooks that neither libFuzzer's runtime nor libasan
// defines (clang never emits them). Linked into every program of the gcc
// ASan build when it traces comparisons (HM_CMP_HOOKS in the top
// CMakeLists.txt): they record nothing.
extern "C" {
void __sanitizer_cov_trace_cmpf(float, float) {}
void __sanitizer_cov_trace_cmpd(double, double) {}
}

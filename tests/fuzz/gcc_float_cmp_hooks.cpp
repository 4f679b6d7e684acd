// gcc's -fsanitize-coverage=trace-cmp also traces float and double
// comparisons, through hooks that libFuzzer's runtime does not define (clang
// never emits them). Linked into the gcc fuzz build only: they record nothing.
extern "C" {
void __sanitizer_cov_trace_cmpf(float, float) {}
void __sanitizer_cov_trace_cmpd(double, double) {}
}

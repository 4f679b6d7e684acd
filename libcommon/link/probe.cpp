// The reference program of load-order.sh: linked against the shared
// libraries of the torch tools, in their order, and left in the natural load
// order. It does nothing; its global scope is what the plan starts from and
// what `load-order.sh check` compares the tools with.
int main() { return 0; }

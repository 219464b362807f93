// llmstream-bench-simdjson: `llmstream-bench parse`, built for this machine (-march=native) so that
// simdjson On-Demand runs its best kernels; see benchmarks/CMakeLists.txt.
#include "commands.hpp"

int main(int argc, char** argv) {
    std::vector<std::string> args(argv + 1, argv + argc);
    if (args.empty() || args.front() != "parse") return llmstream::bench::usage_error("llmstream-bench-simdjson runs parse only");
    args.erase(args.begin());
    return llmstream::bench::parse_command(args);
}

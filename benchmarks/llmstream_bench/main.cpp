// llmstream-bench: end-to-end measurements whose output other tools read (one JSON object).
#include "commands.hpp"

int main(int argc, char** argv) {
    std::vector<std::string> args(argv + 1, argv + argc);
    if (args.empty()) return llmstream::bench::usage_error("no command");
    const std::string command = args.front();
    args.erase(args.begin());
    if (command == "parse") return llmstream::bench::parse_command(args);
    if (command == "load") return llmstream::bench::load_command(args);
    if (command == "floor") return llmstream::bench::floor_command(args);
    if (command == "relay") return llmstream::bench::relay_command(args);
    return llmstream::bench::usage_error("unknown command: " + command);
}

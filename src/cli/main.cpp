// llmstream: stream a reply to stdout (`llmstream chat`), or diagnose a key and endpoint
// (`llmstream doctor`). `llmstream --help` prints the usage and the exit codes.
#include "cli/commands.hpp"
#include "cli/outcome.hpp"

#include <cstdlib>
#include <exception>
#include <iostream>

int main(int argc, char** argv) {
    using namespace llmstream::cli;
    std::vector<std::string_view> args(argv + 1, argv + argc);
    const parse_result parsed = parse_arguments(args);
    if (parsed.opts.help) {
        std::cout << usage();
        return exit_code::ok;
    }
    if (parsed.opts.version) {
        std::cout << "llmstream 0.1.0\n";
        return exit_code::ok;
    }
    if (!parsed.error.empty()) {
        std::cerr << "llmstream: " << parsed.error << "\n\n" << usage();
        return exit_code::usage;
    }
    endpoint ep;
    const auto env = [](const char* name) {
        const char* v = std::getenv(name);
        return v ? std::string(v) : std::string();
    };
    if (auto error = make_endpoint(parsed.opts, env, ep); !error.empty()) {
        std::cerr << "llmstream: " << error << "\n\n" << usage();
        return exit_code::usage;
    }
    try {
        return parsed.opts.command == "doctor" ? run_doctor(parsed.opts, ep) : run_chat(parsed.opts, ep);
    } catch (const std::invalid_argument& e) {
        std::cerr << e.what() << '\n';  // the client refused the configuration (never echoes the key)
        return exit_code::usage;
    } catch (const std::exception& e) {
        // The message names the cause, not the key.
        std::cerr << "llmstream: " << e.what() << '\n';
        return exit_code::other;
    }
}

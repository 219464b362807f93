// The `llmstream` subcommands. Each returns the process exit code.
#pragma once

#include "cli/options.hpp"

namespace llmstream::cli {

int run_chat(const options& opts, const endpoint& ep);
int run_doctor(const options& opts, const endpoint& ep);

}  // namespace llmstream::cli

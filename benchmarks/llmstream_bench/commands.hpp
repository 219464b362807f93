#pragma once

#include <iostream>
#include <string>
#include <vector>

namespace llmstream::bench {

inline int usage_error(const std::string& what) {
    std::cerr << "llmstream-bench: " << what << "\n"
              << "usage: llmstream-bench parse FILE [--dialect openai|dashscope] [--repeat N] [--warmup N]\n"
              << "       llmstream-bench load --base-url URL [--dialect openai|dashscope] --concurrency C --requests N\n"
              << "                            [--model M] [--api-key K]\n"
              << "       llmstream-bench floor --base-url http://HOST:PORT/PREFIX --concurrency C --requests N [--model M]\n";
    return 2;
}

int parse_command(const std::vector<std::string>& args);
int load_command(const std::vector<std::string>& args);
int floor_command(const std::vector<std::string>& args);

}  // namespace llmstream::bench

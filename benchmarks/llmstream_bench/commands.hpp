#pragma once

#include <sys/resource.h>

#include <iostream>
#include <string>
#include <vector>

namespace llmstream::bench {

inline int usage_error(const std::string& what) {
    std::cerr << "llmstream-bench: " << what << "\n"
              << "usage: llmstream-bench parse FILE [--dialect openai|dashscope|anthropic|responses]\n"
              << "                             [--decoder llmstream|simdjson] [--repeat N] [--warmup N]\n"
              << "       llmstream-bench load --base-url URL [--dialect openai|dashscope] --concurrency C --requests N\n"
              << "                            [--model M] [--api-key K] [--http auto|1.1|2] [--ca-file PATH] [--batch]\n"
              << "                            [--metrics] [--prompt-bytes N] [--no-tls-resume] [--max-connecting N] [--retries N]\n"
              << "                            [--rpm N] [--tpm N] [--max-in-flight N] [--adaptive] [--expected-instances N]\n"
              << "                            [--redis URL] [--limit-key K]\n"
              << "       llmstream-bench floor --base-url http://HOST:PORT/PREFIX --concurrency C --requests N [--model M]\n"
              << "       llmstream-bench relay --url http://HOST:PORT --clients N [--model M] [--gateway-pid PID]\n";
    return 2;
}

/// This process's user + system CPU time so far, in seconds.
inline double cpu_seconds() {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
           static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

int parse_command(const std::vector<std::string>& args);
int load_command(const std::vector<std::string>& args);
int relay_command(const std::vector<std::string>& args);
int floor_command(const std::vector<std::string>& args);

}  // namespace llmstream::bench

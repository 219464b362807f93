// Test support: a real Redis (Debian's redis-server) on a loopback port, started for a test and
// stopped when the object goes away (or by stop(), to play an outage; start() again on the same
// port), with bounded waits. Nothing is saved to disk. keys() asks it through redis-cli.
#pragma once

#include "run_process.hpp"
#include "server_process.hpp"

#include <filesystem>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

namespace llmstream::testing {

class redis_server {
public:
    /// Where redis-server is, or "" when it is not installed.
    static std::string program() {
        return server_process::find_program({"/usr/bin/redis-server", "/usr/local/bin/redis-server"});
    }

    /// `password`: with it, Redis requires AUTH.
    explicit redis_server(std::string password = {}) : password_(std::move(password)) {
        if (program().empty()) throw std::runtime_error("redis-server is not installed: run scripts/install-deps");
        std::random_device rd;
        dir_ = std::filesystem::temp_directory_path() / ("llmstream-redis-" + std::to_string(rd()));
        std::filesystem::create_directories(dir_);
        for (int attempt = 0; attempt < 5 && !process_.running(); ++attempt) {
            port_ = server_process::free_port();
            start();
        }
        if (!process_.running()) throw std::runtime_error("redis-server did not start listening");
    }
    ~redis_server() {
        process_.stop();
        std::error_code ignored;
        std::filesystem::remove_all(dir_, ignored);
    }
    redis_server(const redis_server&) = delete;
    redis_server& operator=(const redis_server&) = delete;

    /// (Re)starts it on its port, empty. True once it listens.
    bool start() {
        std::vector<std::string> argv = {program(), "--port", std::to_string(port_), "--bind", "127.0.0.1",
                                         "--save", "", "--appendonly", "no", "--dir", dir_.string()};
        if (!password_.empty()) {
            argv.push_back("--requirepass");
            argv.push_back(password_);
        }
        return process_.start(argv, port_);
    }
    /// Stops it (an outage).
    void stop() { process_.stop(); }

    unsigned short port() const { return port_; }
    /// redis://127.0.0.1:port (with the password when one is required).
    std::string url() const {
        return "redis://" + (password_.empty() ? std::string() : ":" + password_ + "@") + "127.0.0.1:" +
               std::to_string(port_);
    }

    /// The keys matching `pattern`, by redis-cli.
    std::vector<std::string> keys(const std::string& pattern) const {
        std::vector<std::string> args = {"-p", std::to_string(port_), "--no-auth-warning"};
        if (!password_.empty()) {
            args.push_back("-a");
            args.push_back(password_);
        }
        args.insert(args.end(), {"--scan", "--pattern", pattern});
        const auto r = run_process("/usr/bin/redis-cli", args);
        std::vector<std::string> out;
        std::size_t start = 0;
        while (start < r.out.size()) {
            auto end = r.out.find('\n', start);
            if (end == std::string::npos) end = r.out.size();
            if (end > start) out.push_back(r.out.substr(start, end - start));
            start = end + 1;
        }
        return out;
    }

private:
    std::string password_;
    std::filesystem::path dir_;
    server_process process_;
    unsigned short port_ = 0;
};

}  // namespace llmstream::testing

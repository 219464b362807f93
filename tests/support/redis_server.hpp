// Test support: a real Redis (Debian's redis-server) on a loopback port, started for a test and
// stopped when the object goes away (or by stop(), to play an outage; start() again on the same
// port), with bounded waits. Nothing is saved to disk. keys() asks it through redis-cli.
#pragma once

#include "run_process.hpp"
#include "server_process.hpp"

#include <filesystem>
#include <optional>
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

    /// Redis over TLS only (rediss://), with this certificate and key; `ca` for redis-cli.
    struct tls_files {
        std::string cert, key, ca;
    };

    /// `password`: with it, Redis requires AUTH. `tls`: TLS only, on the port.
    explicit redis_server(std::string password = {}, std::optional<tls_files> tls = std::nullopt)
        : password_(std::move(password)), tls_(std::move(tls)) {
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
        std::vector<std::string> argv = {program(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                                         "--dir", dir_.string()};
        if (tls_) {
            argv.insert(argv.end(), {"--port", "0", "--tls-port", std::to_string(port_), "--tls-cert-file", tls_->cert,
                                     "--tls-key-file", tls_->key, "--tls-ca-cert-file", tls_->ca,
                                     "--tls-auth-clients", "no"});
        } else {
            argv.insert(argv.end(), {"--port", std::to_string(port_)});
        }
        if (!password_.empty()) {
            argv.push_back("--requirepass");
            argv.push_back(password_);
        }
        return process_.start(argv, port_);
    }
    /// Stops it (an outage).
    void stop() { process_.stop(); }

    unsigned short port() const { return port_; }
    /// redis://127.0.0.1:port (with the password when one is required); with TLS,
    /// rediss://localhost:port (the name the test certificates are for).
    std::string url() const {
        return std::string(tls_ ? "rediss://" : "redis://") + (password_.empty() ? std::string() : ":" + password_ + "@") +
               (tls_ ? "localhost:" : "127.0.0.1:") + std::to_string(port_);
    }

    /// The keys matching `pattern`, by redis-cli.
    std::vector<std::string> keys(const std::string& pattern) const { return cli({"--scan", "--pattern", pattern}); }

    /// A hash field's value ("" when absent), by redis-cli.
    std::string hget(const std::string& key, const std::string& field) const {
        const auto lines = cli({"HGET", key, field});
        return lines.empty() ? std::string() : lines.front();
    }

private:
    // redis-cli with `command`; its output lines.
    std::vector<std::string> cli(const std::vector<std::string>& command) const {
        std::vector<std::string> args = {"-p", std::to_string(port_), "--no-auth-warning"};
        if (tls_) args.insert(args.end(), {"--tls", "--cacert", tls_->ca, "--sni", "localhost"});
        if (!password_.empty()) {
            args.push_back("-a");
            args.push_back(password_);
        }
        args.insert(args.end(), command.begin(), command.end());
        const auto r = run_process("/usr/bin/redis-cli", args);
        if (r.exit_code != 0) throw std::runtime_error("redis-cli failed: " + r.err);
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

    std::string password_;
    std::optional<tls_files> tls_;
    std::filesystem::path dir_;
    server_process process_;
    unsigned short port_ = 0;
};

}  // namespace llmstream::testing

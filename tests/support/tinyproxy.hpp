// Test support: a real HTTP proxy (Debian's tinyproxy) on a loopback port, started for a test and
// stopped when the object goes away, with bounded waits. Its log ("LogLevel Connect") records each
// request line and CONNECT target, so a test can tell what went through it.
#pragma once

#include "server_process.hpp"

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace llmstream::testing {

class tinyproxy {
public:
    struct options {
        std::string user;      ///< with `password`: Basic credentials the proxy requires
        std::string password;
        std::vector<unsigned short> connect_ports;  ///< CONNECT only to these (empty: to any port)
    };

    /// Where tinyproxy is, or an empty string when it is not installed.
    static std::string program() {
        return server_process::find_program({"/usr/bin/tinyproxy", "/usr/sbin/tinyproxy", "/usr/local/bin/tinyproxy"});
    }

    explicit tinyproxy(options o = {}) : options_(std::move(o)) {
        const std::string exe = program();
        if (exe.empty()) throw std::runtime_error("tinyproxy is not installed: run scripts/install-deps");
        std::random_device rd;
        dir_ = std::filesystem::temp_directory_path() / ("llmstream-tinyproxy-" + std::to_string(rd()));
        std::filesystem::create_directories(dir_);
        // A free port can be taken by someone else between asking and listening: a few tries.
        for (int attempt = 0; attempt < 5 && !process_.running(); ++attempt) start(exe, server_process::free_port());
        if (!process_.running()) {
            cleanup();
            throw std::runtime_error("tinyproxy did not start listening: " + log());
        }
    }
    ~tinyproxy() {
        process_.stop();
        cleanup();
    }
    tinyproxy(const tinyproxy&) = delete;
    tinyproxy& operator=(const tinyproxy&) = delete;

    unsigned short port() const { return port_; }
    /// http://127.0.0.1:port, without credentials.
    std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
    /// http://user:password@127.0.0.1:port.
    std::string url_with(const std::string& user, const std::string& password) const {
        return "http://" + user + ":" + password + "@127.0.0.1:" + std::to_string(port_);
    }
    /// What tinyproxy logged so far.
    std::string log() const {
        std::ifstream f(dir_ / "log");
        std::stringstream ss;
        ss << f.rdbuf();
        return ss.str();
    }

private:
    void start(const std::string& exe, unsigned short port) {
        if (port == 0) return;
        const auto conf = (dir_ / "tinyproxy.conf").string();
        {
            std::ofstream c(conf);
            c << "Port " << port << "\nListen 127.0.0.1\nTimeout 30\nMaxClients 64\n"
              << "LogFile \"" << (dir_ / "log").string() << "\"\nLogLevel Connect\n";
            if (!options_.user.empty()) c << "BasicAuth " << options_.user << " " << options_.password << "\n";
            for (const unsigned short p : options_.connect_ports) c << "ConnectPort " << p << "\n";
        }
        // Its output would only repeat the log file.
        if (process_.start({exe, "-d", "-c", conf}, port)) port_ = port;
    }

    void cleanup() {
        std::error_code ignored;
        std::filesystem::remove_all(dir_, ignored);
    }

    options options_;
    std::filesystem::path dir_;
    server_process process_;
    unsigned short port_ = 0;
};

}  // namespace llmstream::testing

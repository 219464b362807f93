// Test support: Debian's nginx on a loopback port, serving fixed files to POST requests (an SSE
// stream or a JSON body as text/event-stream / application/json), over HTTP/1.1 or HTTP/2, TLS with
// a test CA's certificate. Started for a test, stopped when the object goes away. Its access log
// records each request's connection serial number, so a test can count connections.
#pragma once

#include "server_process.hpp"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace llmstream::testing {

class nginx_server {
public:
    struct options {
        std::string cert_file;  ///< with key_file: HTTPS
        std::string key_file;
        bool http2 = true;      ///< `listen ... http2` (nginx 1.22 has no `http2 on;`)
        unsigned keepalive_requests = 1000;     ///< requests (streams) per connection before it closes (GOAWAY)
        unsigned max_concurrent_streams = 128;  ///< http2_max_concurrent_streams
        unsigned worker_connections = 4096;
    };

    static std::string program() { return server_process::find_program({"/usr/sbin/nginx", "/usr/bin/nginx"}); }

    /// `files`: path (e.g. "v1/chat/completions") -> content, answered to GET and POST alike;
    /// paths ending in ".json" as application/json, the rest as text/event-stream.
    nginx_server(options o, const std::vector<std::pair<std::string, std::string>>& files) : options_(std::move(o)) {
        const std::string exe = program();
        if (exe.empty()) throw std::runtime_error("nginx is not installed: run scripts/install-deps");
        std::random_device rd;
        dir_ = std::filesystem::temp_directory_path() / ("llmstream-nginx-" + std::to_string(rd()));
        std::filesystem::create_directories(dir_ / "www");
        std::filesystem::create_directories(dir_ / "tmp");
        for (const auto& [path, content] : files) {
            const auto file = dir_ / "www" / path;
            std::filesystem::create_directories(file.parent_path());
            std::ofstream(file, std::ios::binary) << content;
        }
        for (int attempt = 0; attempt < 5 && !process_.running(); ++attempt) start(exe, server_process::free_port());
        if (!process_.running()) {
            const std::string why = error_log();
            cleanup();
            throw std::runtime_error("nginx did not start listening: " + why);
        }
    }
    ~nginx_server() {
        process_.stop();
        cleanup();
    }
    nginx_server(const nginx_server&) = delete;
    nginx_server& operator=(const nginx_server&) = delete;

    unsigned short port() const { return port_; }
    /// https://localhost:port/v1 with TLS (the test CA's certificates are for DNS:localhost), else http://127.0.0.1:port/v1.
    std::string base_url() const {
        return options_.cert_file.empty() ? "http://127.0.0.1:" + std::to_string(port_) + "/v1"
                                          : "https://localhost:" + std::to_string(port_) + "/v1";
    }
    std::string access_log() const { return read(dir_ / "access.log"); }
    std::string error_log() const { return read(dir_ / "error.log"); }
    /// Requests logged, and the distinct connections they came on.
    std::pair<std::size_t, std::size_t> requests_and_connections() const {
        std::istringstream log(access_log());
        std::set<std::string> connections;
        std::size_t requests = 0;
        for (std::string line; std::getline(log, line);) {
            ++requests;
            connections.insert(line.substr(0, line.find(' ')));
        }
        return {requests, connections.size()};
    }

private:
    static std::string read(const std::filesystem::path& p) {
        std::ifstream f(p);
        std::stringstream ss;
        ss << f.rdbuf();
        return ss.str();
    }

    void start(const std::string& exe, unsigned short port) {
        if (port == 0) return;
        const std::string d = dir_.string();
        const bool tls = !options_.cert_file.empty();
        {
            std::ofstream c(dir_ / "nginx.conf");
            c << "daemon off;\nmaster_process off;\nworker_processes 1;\n"
              << "error_log " << d << "/error.log warn;\npid " << d << "/nginx.pid;\n"
              << "events { worker_connections " << options_.worker_connections << "; }\n"
              << "http {\n"
              << "  log_format conn '$connection $request_method $uri $status $server_protocol';\n"
              << "  access_log " << d << "/access.log conn;\n"
              << "  client_body_temp_path " << d << "/tmp/body;\n"
              << "  proxy_temp_path " << d << "/tmp/proxy;\n"
              << "  keepalive_requests " << options_.keepalive_requests << ";\n"
              << "  http2_max_concurrent_streams " << options_.max_concurrent_streams << ";\n"
              << "  types { application/json json; }\n"
              << "  default_type text/event-stream;\n"
              << "  server {\n"
              << "    listen 127.0.0.1:" << port << (tls ? " ssl" : "") << (options_.http2 ? " http2" : "") << ";\n";
            if (tls)
                c << "    ssl_certificate " << options_.cert_file << ";\n    ssl_certificate_key " << options_.key_file
                  << ";\n";
            // Static files answer POST too: 405 becomes the file itself.
            c << "    root " << d << "/www;\n"
              << "    location / { error_page 405 =200 $uri; }\n"
              << "  }\n}\n";
        }
        if (process_.start({exe, "-p", d, "-c", d + "/nginx.conf"}, port, d + "/stdout.log")) port_ = port;
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

// Test support: a real HTTP proxy (Debian's tinyproxy) on a loopback port, started for a test and
// stopped when the object goes away, with bounded waits. Its log ("LogLevel Connect") records each
// request line and CONNECT target, so a test can tell what went through it.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

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
        for (const char* p : {"/usr/bin/tinyproxy", "/usr/sbin/tinyproxy", "/usr/local/bin/tinyproxy"})
            if (::access(p, X_OK) == 0) return p;
        return {};
    }

    explicit tinyproxy(options o = {}) : options_(std::move(o)) {
        const std::string exe = program();
        if (exe.empty()) throw std::runtime_error("tinyproxy is not installed: run scripts/install-deps");
        std::random_device rd;
        dir_ = std::filesystem::temp_directory_path() / ("llmstream-tinyproxy-" + std::to_string(rd()));
        std::filesystem::create_directories(dir_);
        // A free port can be taken by someone else between asking and listening: a few tries.
        for (int attempt = 0; attempt < 5 && pid_ <= 0; ++attempt) start(exe, free_port());
        if (pid_ <= 0) {
            cleanup();
            throw std::runtime_error("tinyproxy did not start listening: " + log());
        }
    }
    ~tinyproxy() {
        stop();
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
    static unsigned short free_port() {
        const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof a;
        unsigned short port = 0;
        if (fd >= 0 && ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
            ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0)
            port = ntohs(a.sin_port);
        if (fd >= 0) ::close(fd);
        return port;
    }

    static bool accepts(unsigned short port) {
        const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        a.sin_port = htons(port);
        const bool ok = fd >= 0 && ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
        if (fd >= 0) ::close(fd);
        return ok;
    }

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
        std::vector<std::string> args{exe, "-d", "-c", conf};
        std::vector<char*> argv;
        for (auto& a : args) argv.push_back(a.data());
        argv.push_back(nullptr);
        // Its stdout and stderr would only repeat the log file.
        posix_spawn_file_actions_t actions;
        posix_spawn_file_actions_init(&actions);
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
        pid_t pid = 0;
        const int rc = ::posix_spawn(&pid, exe.c_str(), &actions, nullptr, argv.data(), environ);
        posix_spawn_file_actions_destroy(&actions);
        if (rc != 0) return;
        // Up to 5 s for it to listen; give up at once if it exited (the port was taken, say).
        for (int i = 0; i < 500; ++i) {
            int status = 0;
            if (::waitpid(pid, &status, WNOHANG) == pid) return;
            if (accepts(port)) {
                pid_ = pid;
                port_ = port;
                return;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        ::kill(pid, SIGKILL);
        ::waitpid(pid, nullptr, 0);
    }

    void stop() {
        if (pid_ <= 0) return;
        ::kill(pid_, SIGTERM);
        for (int i = 0; i < 200; ++i) {  // up to 2 s, then SIGKILL
            if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {
                pid_ = -1;
                return;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, nullptr, 0);
        pid_ = -1;
    }

    void cleanup() {
        std::error_code ignored;
        std::filesystem::remove_all(dir_, ignored);
    }

    options options_;
    std::filesystem::path dir_;
    pid_t pid_ = -1;
    unsigned short port_ = 0;
};

}  // namespace llmstream::testing

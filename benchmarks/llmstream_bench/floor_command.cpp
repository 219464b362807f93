// `llmstream-bench floor --base-url http://HOST:PORT/PREFIX --concurrency C --requests N [--model M]`
// The socket floor: what any client must spend to receive the same streams from the same server
// on this machine. Plain epoll and recv, one thread, no parsing beyond counting SSE events
// (blank lines) and finding the end of each chunked response; keep-alive like the real client.
// Prints {"requests_ok","events","wall_s","cpu_s","cpu_ns_per_event","recv_calls"}.
// Plain HTTP only (it exists to measure the kernel's share against llmstream-mock on loopback).
#include "commands.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

namespace llmstream::bench {
namespace {

struct connection {
    int fd = -1;
    char last = 0;      // last byte received (a blank line may straddle two reads)
    std::string tail;   // last bytes received, to find the end of the chunked body
    bool busy = false;
};

constexpr std::string_view body_end = "\r\n0\r\n\r\n";

}  // namespace

int floor_command(const std::vector<std::string>& args) {
    std::string base_url, model = "mock?tokens=64";
    long concurrency = 64, requests = 1000;
    for (std::size_t i = 0; i < args.size(); ++i) {
        const bool has_value = i + 1 < args.size();
        if (args[i] == "--base-url" && has_value) base_url = args[++i];
        else if (args[i] == "--model" && has_value) model = args[++i];
        else if (args[i] == "--concurrency" && has_value) concurrency = std::strtol(args[++i].c_str(), nullptr, 10);
        else if (args[i] == "--requests" && has_value) requests = std::strtol(args[++i].c_str(), nullptr, 10);
        else return usage_error("floor: unknown argument: " + args[i]);
    }
    constexpr std::string_view scheme = "http://";
    if (base_url.rfind(scheme, 0) != 0) return usage_error("floor needs --base-url http://HOST:PORT/PREFIX (plain HTTP)");
    const std::string rest = base_url.substr(scheme.size());
    const std::size_t colon = rest.find(':'), slash = rest.find('/');
    if (colon == std::string::npos || slash == std::string::npos || slash < colon)
        return usage_error("floor needs --base-url http://HOST:PORT/PREFIX");
    const std::string host = rest.substr(0, colon);
    const int port = std::atoi(rest.substr(colon + 1, slash - colon - 1).c_str());
    const std::string prefix = rest.substr(slash);
    if (concurrency < 1 || requests < 1 || port <= 0) return usage_error("floor: bad --concurrency, --requests or port");

    const std::string body = R"({"model":")" + model + R"(","messages":[{"role":"user","content":"Hello"}],"stream":true})";
    const std::string request = "POST " + prefix + "/chat/completions HTTP/1.1\r\nHost: " + host +
                                "\r\nAuthorization: Bearer bench-key\r\nContent-Type: application/json\r\nAccept: text/event-stream\r\n"
                                "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;

    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    if (inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1) return usage_error("floor: HOST must be an IPv4 address");

    const int ep = epoll_create1(0);
    std::vector<connection> conns(static_cast<std::size_t>(std::min(concurrency, requests)));
    long started = 0, done = 0, events = 0, recv_calls = 0;
    auto send_request = [&](connection& c) {
        c.busy = true;
        c.tail.clear();
        ++started;
        return ::send(c.fd, request.data(), request.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(request.size());
    };
    const auto wall0 = std::chrono::steady_clock::now();
    const double cpu0 = cpu_seconds();
    for (std::size_t i = 0; i < conns.size(); ++i) {
        connection& c = conns[i];
        c.fd = ::socket(AF_INET, SOCK_STREAM, 0);
        const int one = 1;
        ::setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (::connect(c.fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
            std::cerr << "llmstream-bench floor: connect: " << std::strerror(errno) << '\n';
            return 1;
        }
        ::fcntl(c.fd, F_SETFL, ::fcntl(c.fd, F_GETFL) | O_NONBLOCK);
        epoll_event ev{};
        ev.events = EPOLLIN;  // level-triggered: one recv per wake-up, the rest at the next wait
        ev.data.u64 = i;
        ::epoll_ctl(ep, EPOLL_CTL_ADD, c.fd, &ev);
        if (!send_request(c)) return 1;
    }
    std::vector<char> buf(64 * 1024);
    epoll_event ready[256];
    while (done < requests) {
        const int n = ::epoll_wait(ep, ready, 256, 10000);
        if (n <= 0) {
            std::cerr << "llmstream-bench floor: no progress for 10 s\n";
            return 1;
        }
        for (int k = 0; k < n; ++k) {
            connection& c = conns[ready[k].data.u64];
            const ssize_t got = ::recv(c.fd, buf.data(), buf.size(), 0);
            ++recv_calls;
            if (got <= 0) {
                std::cerr << "llmstream-bench floor: connection closed\n";
                return 1;
            }
            const char* p = buf.data();
            const char* end = p + got;
            if (c.last == '\n' && *p == '\n') ++events;
            for (const char* q = p; (q = static_cast<const char*>(std::memchr(q, '\n', static_cast<std::size_t>(end - q)))) != nullptr; ++q)
                if (q + 1 < end && q[1] == '\n') ++events;
            c.last = end[-1];
            c.tail.append(end - std::min<ssize_t>(got, static_cast<ssize_t>(body_end.size())), end);
            if (c.tail.size() > body_end.size()) c.tail.erase(0, c.tail.size() - body_end.size());
            if (c.tail == body_end) {
                ++done;
                c.busy = false;
                if (started < requests && !send_request(c)) return 1;
            }
        }
    }
    const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();
    const double cpu = cpu_seconds() - cpu0;
    for (connection& c : conns) ::close(c.fd);
    ::close(ep);
    std::printf("{\"requests_ok\":%ld,\"events\":%ld,\"wall_s\":%.3f,\"cpu_s\":%.3f,\"cpu_ns_per_event\":%.1f,\"recv_calls\":%ld}\n",
                done, events, wall, cpu, events ? cpu * 1e9 / static_cast<double>(events) : 0.0, recv_calls);
    return 0;
}

}  // namespace llmstream::bench

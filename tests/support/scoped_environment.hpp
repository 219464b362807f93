// Environment variables set for one test's scope, and given back their earlier values (or
// unset again) when it ends: OpenSSL reads SSL_CERT_FILE and SSL_CERT_DIR at each load.
#pragma once

#include <cstdlib>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace llmstream::testing {

class scoped_environment {
public:
    explicit scoped_environment(std::vector<std::pair<std::string, std::string>> variables) {
        for (auto& [name, value] : variables) {
            const char* before = std::getenv(name.c_str());
            saved_.push_back({name, before ? std::optional<std::string>(before) : std::nullopt});
            ::setenv(name.c_str(), value.c_str(), 1);
        }
    }
    ~scoped_environment() {
        for (const auto& [name, before] : saved_) {
            if (before) ::setenv(name.c_str(), before->c_str(), 1);
            else ::unsetenv(name.c_str());
        }
    }
    scoped_environment(const scoped_environment&) = delete;
    scoped_environment& operator=(const scoped_environment&) = delete;

private:
    std::vector<std::pair<std::string, std::optional<std::string>>> saved_;
};

}  // namespace llmstream::testing

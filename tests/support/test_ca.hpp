// A throwaway certificate authority for TLS tests, made with OpenSSL 3 at test time: a CA, and
// a server certificate it signs for given subjectAltNames. Files live in a scratch directory that
// is removed when the object goes away.
#pragma once

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstdio>
#include <filesystem>
#include <random>
#include <stdexcept>
#include <string>

namespace llmstream::testing {

class test_ca {
public:
    /// `server_names`: a subjectAltName list such as "DNS:localhost".
    explicit test_ca(const std::string& server_names) {
        std::random_device rd;
        dir_ = std::filesystem::temp_directory_path() / ("llmstream-tls-" + std::to_string(rd()));
        std::filesystem::create_directories(dir_);
        EVP_PKEY* ca_key = EVP_EC_gen("P-256");
        X509* ca = make_cert(ca_key, ca_key, nullptr, "llmstream test CA", true, "");
        EVP_PKEY* server_key = EVP_EC_gen("P-256");
        X509* server = make_cert(server_key, ca_key, ca, "llmstream test server", false, server_names);
        write_cert(ca, ca_file());
        write_cert(server, cert_file());
        write_key(server_key, key_file());
        X509_free(server);
        X509_free(ca);
        EVP_PKEY_free(server_key);
        EVP_PKEY_free(ca_key);
    }
    ~test_ca() {
        std::error_code ignored;
        std::filesystem::remove_all(dir_, ignored);
    }
    test_ca(const test_ca&) = delete;
    test_ca& operator=(const test_ca&) = delete;

    std::string ca_file() const { return (dir_ / "ca.pem").string(); }
    std::string cert_file() const { return (dir_ / "server.pem").string(); }
    std::string key_file() const { return (dir_ / "server.key").string(); }

private:
    static void add_ext(X509* cert, X509* issuer, int nid, const std::string& value) {
        X509V3_CTX ctx;
        X509V3_set_ctx(&ctx, issuer ? issuer : cert, cert, nullptr, nullptr, 0);
        X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
        if (!ext) throw std::runtime_error("test_ca: bad extension " + value);
        X509_add_ext(cert, ext, -1);
        X509_EXTENSION_free(ext);
    }

    static X509* make_cert(EVP_PKEY* key, EVP_PKEY* signer, X509* issuer, const char* cn, bool is_ca,
                           const std::string& names) {
        static long serial = 1;
        X509* x = X509_new();
        X509_set_version(x, 2);
        ASN1_INTEGER_set(X509_get_serialNumber(x), serial++);
        X509_gmtime_adj(X509_getm_notBefore(x), -3600);
        X509_gmtime_adj(X509_getm_notAfter(x), 24 * 3600);
        X509_set_pubkey(x, key);
        X509_NAME* name = X509_get_subject_name(x);
        X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn), -1, -1, 0);
        X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name);
        if (is_ca) {
            add_ext(x, issuer, NID_basic_constraints, "critical,CA:TRUE");
            add_ext(x, issuer, NID_key_usage, "critical,keyCertSign,cRLSign");
            add_ext(x, issuer, NID_subject_key_identifier, "hash");
        } else {
            add_ext(x, issuer, NID_basic_constraints, "critical,CA:FALSE");
            add_ext(x, issuer, NID_ext_key_usage, "serverAuth");
            add_ext(x, issuer, NID_subject_alt_name, names);
            add_ext(x, issuer, NID_authority_key_identifier, "keyid");
        }
        if (!X509_sign(x, signer, EVP_sha256())) throw std::runtime_error("test_ca: signing failed");
        return x;
    }

    static void write_cert(X509* x, const std::string& path) {
        FILE* f = std::fopen(path.c_str(), "w");
        if (!f || !PEM_write_X509(f, x)) throw std::runtime_error("test_ca: cannot write " + path);
        std::fclose(f);
    }

    static void write_key(EVP_PKEY* k, const std::string& path) {
        FILE* f = std::fopen(path.c_str(), "w");
        if (!f || !PEM_write_PrivateKey(f, k, nullptr, nullptr, 0, nullptr, nullptr))
            throw std::runtime_error("test_ca: cannot write " + path);
        std::fclose(f);
    }

    std::filesystem::path dir_;
};

}  // namespace llmstream::testing

#include "agent/base/hash.h"

#include <openssl/evp.h>
#include <strings.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <utility>
#include <vector>

namespace kiln {
namespace {

using ContextPtr = std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)>;

constexpr std::size_t kFileChunkBytes = 64 * 1024;

const EVP_MD* algorithm_md(DigestAlgorithm algorithm) {
  switch (algorithm) {
    case DigestAlgorithm::Md5: return EVP_md5();
    case DigestAlgorithm::Sha1: return EVP_sha1();
    case DigestAlgorithm::Sha256: return EVP_sha256();
    case DigestAlgorithm::Sha512: return EVP_sha512();
  }
  return EVP_sha256();
}

}  // namespace

std::string to_hex(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char c : bytes) {
    auto b = static_cast<unsigned char>(c);
    out += kHex[b >> 4];
    out += kHex[b & 0xF];
  }
  return out;
}

std::string sha256_hex(std::string_view text) {
  // Fetched once: an implicit fetch on every digest was a visible share of a step's cost.
  static EVP_MD* const fetched = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  thread_local ContextPtr context(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  const EVP_MD* md = fetched ? fetched : EVP_sha256();
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (!context || EVP_DigestInit_ex2(context.get(), md, nullptr) != 1 ||
      EVP_DigestUpdate(context.get(), text.data(), text.size()) != 1 ||
      EVP_DigestFinal_ex(context.get(), digest, &length) != 1) {
    EVP_Digest(text.data(), text.size(), digest, &length, md, nullptr);
  }
  return to_hex(std::string_view(reinterpret_cast<const char*>(digest), length));
}

FileDigest file_digest_hex(const std::string& path, DigestAlgorithm algorithm) {
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!file) return {"", "cannot open " + path + ": " + std::strerror(errno)};
  ContextPtr context(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  if (!context || EVP_DigestInit_ex(context.get(), algorithm_md(algorithm), nullptr) != 1) {
    return {"", "cannot start the digest"};
  }
  std::vector<unsigned char> chunk(kFileChunkBytes);
  while (std::size_t got = std::fread(chunk.data(), 1, chunk.size(), file.get())) {
    EVP_DigestUpdate(context.get(), chunk.data(), got);
  }
  if (std::ferror(file.get())) return {"", "cannot read " + path + ": " + std::strerror(errno)};
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (EVP_DigestFinal_ex(context.get(), digest, &length) != 1) return {"", "cannot finish the digest"};
  return {to_hex(std::string_view(reinterpret_cast<const char*>(digest), length)), ""};
}

std::optional<DigestAlgorithm> parse_digest_algorithm(std::string_view name) {
  static constexpr std::pair<std::string_view, DigestAlgorithm> kNames[] = {
      {"MD5", DigestAlgorithm::Md5}, {"SHA1", DigestAlgorithm::Sha1},
      {"SHA256", DigestAlgorithm::Sha256}, {"SHA512", DigestAlgorithm::Sha512}};
  for (const auto& [text, algorithm] : kNames)
    if (text.size() == name.size() && ::strncasecmp(text.data(), name.data(), name.size()) == 0) return algorithm;
  return std::nullopt;
}

struct StreamingDigest::Context {
  ContextPtr context{EVP_MD_CTX_new(), &EVP_MD_CTX_free};
};

StreamingDigest::StreamingDigest(DigestAlgorithm algorithm)
    : algorithm_(algorithm), context_(std::make_unique<Context>()) {
  restart();
}

StreamingDigest::~StreamingDigest() = default;

void StreamingDigest::restart() { EVP_DigestInit_ex(context_->context.get(), algorithm_md(algorithm_), nullptr); }

void StreamingDigest::update(std::string_view bytes) {
  EVP_DigestUpdate(context_->context.get(), bytes.data(), bytes.size());
}

std::string StreamingDigest::finish_hex() {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_DigestFinal_ex(context_->context.get(), digest, &length);
  restart();
  return to_hex(std::string_view(reinterpret_cast<const char*>(digest), length));
}

}  // namespace kiln

// Message digests as lowercase hex (OpenSSL EVP underneath): of a string in memory
// (journal checksums, document fingerprints, unit names) and of a file's contents
// (the fileSHA256Equals family of conditions).
#pragma once
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace kiln {

enum class DigestAlgorithm { Md5, Sha1, Sha256, Sha512 };

// SHA-256 of `text` as 64 lowercase hex digits. Cheap enough to call per journal record:
// the algorithm is fetched once and one digest context per thread is reused (EVP_Digest
// allocates and frees a context on every call, a visible share of a step's cost).
std::string sha256_hex(std::string_view text);

// Lowercase hex of `bytes`.
std::string to_hex(std::string_view bytes);

struct FileDigest {
  std::string hex;    // lowercase; empty on error
  std::string error;  // non-empty when the file could not be read
};

// The digest of a file's contents, read in chunks (large files are not loaded whole).
FileDigest file_digest_hex(const std::string& path, DigestAlgorithm algorithm);

// "MD5", "sha1", "SHA256", "Sha512" (case-insensitive); nullopt for anything else.
std::optional<DigestAlgorithm> parse_digest_algorithm(std::string_view name);

// A digest fed piece by piece, for data that is hashed while it streams past (a download
// is hashed as it is written, so the file is not read a second time).
class StreamingDigest {
 public:
  explicit StreamingDigest(DigestAlgorithm algorithm);
  ~StreamingDigest();
  StreamingDigest(const StreamingDigest&) = delete;
  StreamingDigest& operator=(const StreamingDigest&) = delete;
  void restart();  // forget everything fed so far
  void update(std::string_view bytes);
  std::string finish_hex();  // lowercase hex; the digest restarts afterwards

 private:
  struct Context;
  DigestAlgorithm algorithm_;
  std::unique_ptr<Context> context_;
};

}  // namespace kiln

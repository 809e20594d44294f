// Message digests as lowercase hex (OpenSSL EVP underneath): of a string in memory
// (journal checksums, document fingerprints, unit names) and of a file's contents
// (the fileSHA256Equals family of conditions).
#pragma once
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

}  // namespace kiln

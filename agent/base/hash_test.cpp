#include "agent/base/hash.h"

#include <doctest/doctest.h>

#include "tests/support/test_support.h"

TEST_CASE("base hash: sha256_hex matches the published test vectors") {
  CHECK(kiln::sha256_hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(kiln::sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  // The reused context gives the same answer on every call.
  CHECK(kiln::sha256_hex("abc") == kiln::sha256_hex(std::string("abc")));
}

TEST_CASE("base hash: to_hex is lowercase, two digits per byte") {
  CHECK(kiln::to_hex(std::string_view("\x00\x0f\xab\xff", 4)) == "000fabff");
  CHECK(kiln::to_hex("").empty());
}

TEST_CASE("base hash: file digests for each algorithm, errors as values") {
  kiln::test::TempDir dir;
  std::string path = dir.write("f.txt", "abc");
  CHECK(kiln::file_digest_hex(path, kiln::DigestAlgorithm::Md5).hex == "900150983cd24fb0d6963f7d28e17f72");
  CHECK(kiln::file_digest_hex(path, kiln::DigestAlgorithm::Sha1).hex == "a9993e364706816aba3e25717850c26c9cd0d89d");
  CHECK(kiln::file_digest_hex(path, kiln::DigestAlgorithm::Sha256).hex == kiln::sha256_hex("abc"));
  CHECK(kiln::file_digest_hex(path, kiln::DigestAlgorithm::Sha512).hex.size() == 128);
  // Larger than one read chunk.
  std::string big(200 * 1024, 'x');
  CHECK(kiln::file_digest_hex(dir.write("big", big), kiln::DigestAlgorithm::Sha256).hex == kiln::sha256_hex(big));
  kiln::FileDigest missing = kiln::file_digest_hex(dir.file("absent"), kiln::DigestAlgorithm::Sha256);
  CHECK(missing.hex.empty());
  CHECK(missing.error.find("cannot open") != std::string::npos);
}

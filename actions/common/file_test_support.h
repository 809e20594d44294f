// Helpers for the file actions' end-to-end tests: build a one-phase document from JSON
// (YAML's subset, so paths need no quoting care), run the real kiln binary on it, and
// look at the real filesystem afterwards.
#pragma once
#include <doctest/doctest.h>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>

#include "tests/e2e/e2e_helpers.h"

namespace kiln::file_test {

using nlohmann::json;

inline json step(const std::string& name, const std::string& action, json inputs) {
  return {{"name", name}, {"action", action}, {"inputs", std::move(inputs)}};
}

// Runs a document whose build phase holds `steps`; `tag` keeps several runs in one
// folder apart; `working_directory` is kiln's (empty: ours).
inline e2e::KilnRun run_steps(const test::TempDir& dir, const json& steps, const std::string& tag = "run",
                              const std::string& working_directory = "") {
  json document = {{"name", "file actions test"},
                   {"schemaVersion", 1.0},
                   {"phases", json::array({{{"name", "build"}, {"steps", steps}}})}};
  return e2e::run_yaml(dir, document.dump(2), {}, tag + ".yml", tag + "-logs", working_directory);
}

using e2e::failure_of;

inline bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

inline struct stat stat_of(const std::string& path) {
  struct stat info {};
  REQUIRE_MESSAGE(::lstat(path.c_str(), &info) == 0, "lstat " << path);
  return info;
}
inline mode_t mode_of(const std::string& path) { return stat_of(path).st_mode & 07777; }
inline bool exists(const std::string& path) {
  struct stat info {};
  return ::lstat(path.c_str(), &info) == 0;
}

inline mode_t current_umask() {
  mode_t mask = ::umask(0);
  ::umask(mask);
  return mask;
}

// Bytes written as a list of values, e.g. bytes({0x68, 0x00}).
inline std::string bytes(std::initializer_list<int> values) {
  std::string out;
  for (int v : values) out += static_cast<char>(v);
  return out;
}

// "hé€𝄞" (ASCII, 2-byte, 3-byte and a 4-byte character, which UTF-16 writes as a
// surrogate pair) in each encoding, without a BOM.
inline const std::string kSample = "h\u00e9\u20ac\U0001D11E";
inline const std::string kSampleUtf8 = bytes({0x68, 0xC3, 0xA9, 0xE2, 0x82, 0xAC, 0xF0, 0x9D, 0x84, 0x9E});
inline const std::string kSampleUtf16LE = bytes({0x68, 0, 0xE9, 0, 0xAC, 0x20, 0x34, 0xD8, 0x1E, 0xDD});
inline const std::string kSampleUtf16BE = bytes({0, 0x68, 0, 0xE9, 0x20, 0xAC, 0xD8, 0x34, 0xDD, 0x1E});
inline const std::string kSampleUtf32LE =
    bytes({0x68, 0, 0, 0, 0xE9, 0, 0, 0, 0xAC, 0x20, 0, 0, 0x1E, 0xD1, 0x01, 0});
inline const std::string kSampleUtf32BE =
    bytes({0, 0, 0, 0x68, 0, 0, 0, 0xE9, 0, 0, 0x20, 0xAC, 0, 0x01, 0xD1, 0x1E});

inline uid_t uid_of(const std::string& user) {
  struct passwd* entry = ::getpwnam(user.c_str());
  REQUIRE_MESSAGE(entry != nullptr, "no user " << user);
  return entry->pw_uid;
}
inline gid_t primary_gid_of(const std::string& user) {
  struct passwd* entry = ::getpwnam(user.c_str());
  REQUIRE_MESSAGE(entry != nullptr, "no user " << user);
  return entry->pw_gid;
}
inline gid_t gid_of(const std::string& group) {
  struct group* entry = ::getgrnam(group.c_str());
  REQUIRE_MESSAGE(entry != nullptr, "no group " << group);
  return entry->gr_gid;
}

inline constexpr const char* kTestOwner = "kiln-test-owner";
inline constexpr const char* kTestGroup = "kiln-test-group";

// Ownership tests need a real second user and group: created here when missing (CI runs
// as root). Returns false when not root: only root may give files away. A whole test
// that needs them is skipped with KILN_SKIP_UNLESS(::geteuid() == 0, ...) (tests/support/skip.h).
inline bool have_test_owner() {
  if (::geteuid() != 0) {
    MESSAGE("SKIPPED: not root: the ownership checks of this test");
    return false;
  }
  if (!::getgrnam(kTestGroup)) (void)std::system("groupadd --system kiln-test-group >/dev/null 2>&1");
  if (!::getpwnam(kTestOwner)) (void)std::system("useradd --system --no-create-home kiln-test-owner >/dev/null 2>&1");
  // Another test process may have created them at the same moment: look again.
  REQUIRE_MESSAGE(::getpwnam(kTestOwner) != nullptr, "cannot create the user " << kTestOwner);
  REQUIRE_MESSAGE(::getgrnam(kTestGroup) != nullptr, "cannot create the group " << kTestGroup);
  return true;
}

}  // namespace kiln::file_test

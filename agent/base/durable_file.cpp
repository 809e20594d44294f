#include "agent/base/durable_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <vector>

#include "agent/base/test_hooks.h"

namespace kiln {
namespace {

std::string failure(const std::string& what, const std::string& path, int error) {
  return what + " " + path + ": " + std::strerror(error);
}

bool write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      if (n == 0) errno = EIO;
      return false;
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

}  // namespace

std::string write_file_durably(const std::string& path, std::string_view content, mode_t mode) {
  std::size_t slash = path.rfind('/');
  std::string folder = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
  std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
  if (name.empty()) return "cannot write " + path + ": not a file name";

  std::string temp = (slash == std::string::npos ? std::string() : path.substr(0, slash + 1)) + "." + name + ".XXXXXX";
  std::vector<char> temp_buffer(temp.begin(), temp.end());
  temp_buffer.push_back('\0');
  int fd = ::mkostemp(temp_buffer.data(), O_CLOEXEC);
  if (fd < 0) return failure("cannot create a temporary file for", path, errno);
  temp.assign(temp_buffer.data());

  auto abandon = [&](const std::string& what, const std::string& subject) {
    int error = errno;
    if (fd >= 0) ::close(fd);
    ::unlink(temp.c_str());
    return failure(what, subject, error);
  };
  if (::fchmod(fd, mode) != 0) return abandon("cannot set the permissions of", temp);
  if (!write_all(fd, content)) return abandon("cannot write", temp);
  if (sync_file(fd) != 0) return abandon("cannot flush", temp);
  int closed = ::close(fd);
  fd = -1;
  if (closed != 0) return abandon("cannot write", temp);
  if (::rename(temp.c_str(), path.c_str()) != 0) return abandon("cannot replace", path);

  // The rename is durable only once the folder's entry is on disk.
  return sync_folder(folder);
}

std::string parent_folder(const std::string& path) {
  std::size_t end = path.find_last_not_of('/');
  if (end == std::string::npos) return "/";
  std::size_t slash = path.rfind('/', end);
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

int sync_file(int fd) {
  if (test_hooks::skip_sync()) return 0;
  int result;
  do result = ::fsync(fd);
  while (result != 0 && errno == EINTR);
  return result;
}

int sync_file_data(int fd) {
  if (test_hooks::skip_sync()) return 0;
  int result;
  do result = ::fdatasync(fd);
  while (result != 0 && errno == EINTR);
  return result;
}

std::string sync_folder(const std::string& folder) {
  if (test_hooks::skip_sync()) return "";
  int dir = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0) return failure("cannot open the folder", folder, errno);
  int synced = sync_file(dir);
  int error = errno;
  ::close(dir);
  if (synced != 0) return failure("cannot flush the folder", folder, error);
  return "";
}

std::string sync_folder_and_parents(const std::string& folder) {
  std::error_code ec;
  std::filesystem::path path = std::filesystem::absolute(folder, ec).lexically_normal();
  if (ec) path = folder;
  for (;; path = path.parent_path()) {
    if (std::string error = sync_folder(path.string()); !error.empty()) return error;
    if (!path.has_relative_path()) return "";
  }
}

std::string create_folder_durably(const std::string& folder, mode_t mode) {
  if (::mkdir(folder.c_str(), mode) == 0) return sync_folder(parent_folder(folder));
  int error = errno;
  struct stat st {};
  if (error == EEXIST && ::stat(folder.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) return "";
  return failure("cannot create", folder, error);
}

}  // namespace kiln

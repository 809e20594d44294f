#include "agent/state/run_journal.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>

#include "agent/base/durable_file.h"

namespace kiln {
namespace {

std::string checksum(std::string_view text) {
  // Fetched once: an implicit fetch on every digest was a visible share of a step's cost.
  // One context, reused: EVP_Digest allocates and frees one per call.
  static EVP_MD* const sha256 = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  static EVP_MD_CTX* const context = EVP_MD_CTX_new();
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  const EVP_MD* md = sha256 ? sha256 : EVP_sha256();
  if (!context || EVP_DigestInit_ex2(context, md, nullptr) != 1 || EVP_DigestUpdate(context, text.data(), text.size()) != 1 ||
      EVP_DigestFinal_ex(context, digest, &length) != 1)
    EVP_Digest(text.data(), text.size(), digest, &length, md, nullptr);
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (int i = 0; i < 8; ++i) {
    out += hex[digest[i] >> 4];
    out += hex[digest[i] & 0xF];
  }
  return out;
}

std::string errno_text(const std::string& what) { return what + ": " + std::strerror(errno); }

bool write_all(int fd, const std::string& data) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

bool read_all(int fd, std::string& out) {
  char buffer[65536];
  while (true) {
    ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return false;
    if (n == 0) return true;
    out.append(buffer, static_cast<size_t>(n));
  }
}

// Splits `text` into verified records. `good_length` is the byte length of the valid
// prefix. Returns the index of the first bad complete line that is not the last one
// (a damaged journal), or -1.
long parse_all(const std::string& text, std::vector<nlohmann::json>& records, size_t& good_length, bool& torn) {
  size_t pos = 0;
  long line_number = 0;
  good_length = 0;
  torn = false;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) {  // no newline: the write was cut short
      torn = true;
      return -1;
    }
    nlohmann::json record;
    if (!parse_journal_line(text.substr(pos, end - pos), record)) {
      if (end + 1 >= text.size()) {  // the last record: torn by a crash mid-write
        torn = true;
        return -1;
      }
      return line_number;
    }
    records.push_back(std::move(record));
    pos = end + 1;
    good_length = pos;
    ++line_number;
  }
  return -1;
}

}  // namespace

std::string journal_line(const nlohmann::json& record) {
  // "<checksum> " is written in front of the dumped JSON in place, without a second copy.
  std::string line(17, ' ');
  {
    nlohmann::detail::serializer<nlohmann::json> serializer(nlohmann::detail::output_adapter<char>(line), ' ',
                                                            nlohmann::json::error_handler_t::replace);
    serializer.dump(record, false, false, 0);
  }
  line.replace(0, 16, checksum(std::string_view(line).substr(17)));
  line.push_back('\n');
  return line;
}

bool parse_journal_line(const std::string& line, nlohmann::json& record) {
  if (line.size() < 18 || line[16] != ' ') return false;
  std::string_view json = std::string_view(line).substr(17);
  if (checksum(json) != std::string_view(line).substr(0, 16)) return false;
  record = nlohmann::json::parse(json, nullptr, false);
  return !record.is_discarded() && record.is_object();
}

RunJournal::~RunJournal() {
  if (fd_ >= 0) ::close(fd_);
}

std::string RunJournal::read(const std::string& folder, std::vector<nlohmann::json>& records) {
  std::string path = folder + "/journal";
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return errno_text("cannot read " + path);
  std::string text;
  bool ok = read_all(fd, text);
  ::close(fd);
  if (!ok) return errno_text("cannot read " + path);
  size_t good = 0;
  bool torn = false;
  long bad = parse_all(text, records, good, torn);
  if (bad >= 0) return path + " is damaged at record " + std::to_string(bad + 1);
  return {};
}

std::string RunJournal::read_all_records(std::vector<nlohmann::json>& records) const {
  return read(folder_, records);
}

std::string RunJournal::open(const std::string& folder) {
  folder_ = folder;
  path_ = folder + "/journal";
  // A new folder and a new journal are durable only once their entries are: without the
  // folder syncs a power cut could drop a journal whose records were all synced.
  if (std::string error = create_folder_durably(folder); !error.empty()) return error;
  fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd_ >= 0) {
    if (std::string error = sync_folder(folder_); !error.empty()) return error;
  } else if (errno == EEXIST) {
    fd_ = ::open(path_.c_str(), O_RDWR | O_CLOEXEC | O_NOFOLLOW);
  }
  if (fd_ < 0) return errno_text("cannot open " + path_);
  std::string text;
  if (!read_all(fd_, text)) return errno_text("cannot read " + path_);
  size_t good = 0;
  long bad = parse_all(text, records_, good, dropped_torn_);
  if (bad >= 0) {
    // Damaged in the middle: keep it for inspection and say so; never guess.
    ::close(fd_);
    fd_ = -1;
    records_.clear();
    std::string aside = path_ + ".damaged-" + std::to_string(std::time(nullptr));
    if (::rename(path_.c_str(), aside.c_str()) != 0) return errno_text("cannot move aside the damaged " + path_);
    if (std::string error = sync_folder(folder_); !error.empty()) return error;
    return "the state journal " + path_ + " is damaged at record " + std::to_string(bad + 1) +
           " and cannot be resumed; it was moved to " + aside + " (run again to start afresh)";
  }
  if (good != text.size()) {
    if (::ftruncate(fd_, static_cast<off_t>(good)) != 0 || sync_file_data(fd_) != 0)
      return errno_text("cannot repair " + path_);
  }
  if (::lseek(fd_, 0, SEEK_END) < 0) return errno_text("cannot seek " + path_);
  bytes_ = good;
  return {};
}

std::string RunJournal::append(const nlohmann::json& record, bool durable) {
  if (fd_ < 0) return "the state journal is not open";
  std::string line = journal_line(record);
  off_t before = ::lseek(fd_, 0, SEEK_CUR);
  auto start = std::chrono::steady_clock::now();
  if (!write_all(fd_, line)) {
    std::string error = errno_text("cannot write the state journal " + path_);
    if (before >= 0 && ::ftruncate(fd_, before) == 0) ::lseek(fd_, before, SEEK_SET);  // no half record left
    return error;
  }
  // A failed sync may have lost the record (and a second one would wrongly succeed): the
  // caller stops the run; the journal is not written again.
  if (durable && sync_file_data(fd_) != 0) {
    std::string error = errno_text("cannot flush the state journal " + path_);
    ::close(fd_);
    fd_ = -1;
    return error;
  }
  sync_time_ += std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - start);
  ++appends_;
  bytes_ += line.size();
  return {};
}

std::string RunJournal::compact(const std::vector<nlohmann::json>& records) {
  std::string temp = path_ + ".tmp";
  int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return errno_text("cannot write " + temp);
  std::string text;
  for (const auto& r : records) text += journal_line(r);
  if (!write_all(fd, text) || sync_file(fd) != 0) {
    std::string error = errno_text("cannot write " + temp);
    ::close(fd);
    ::unlink(temp.c_str());
    return error;
  }
  ::close(fd);
  if (::rename(temp.c_str(), path_.c_str()) != 0) {
    std::string error = errno_text("cannot replace " + path_);
    ::unlink(temp.c_str());
    return error;
  }
  if (std::string error = sync_folder(folder_); !error.empty()) return error;
  int new_fd = ::open(path_.c_str(), O_RDWR | O_APPEND | O_CLOEXEC | O_NOFOLLOW);
  if (new_fd < 0) return errno_text("cannot reopen " + path_);
  if (fd_ >= 0) ::close(fd_);
  fd_ = new_fd;
  ::lseek(fd_, 0, SEEK_END);
  bytes_ = text.size();
  return {};
}

}  // namespace kiln

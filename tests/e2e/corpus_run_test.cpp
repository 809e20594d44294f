// Runs the real corpus documents (tests/corpus/docs) that use only the file-system actions
// through the real kiln binary, in a sandbox folder, and checks what each step did there;
// also the Linux reboot sample (Reboot + ExecuteBash). The other candidates (valid,
// non-Windows, UpdateOS only) are not run: they are listed with the reason in kNotRun.
// The lists of documents run and not run are printed at the end with MESSAGE.
// (Documents using only ExecuteBash are outside this test.)
//
// Rewriting (mechanical, the same for every document). The original is read from
// KILN_CORPUS_DIR (never copied into the tree), parsed with yaml-cpp and emitted again into
// a fresh TempDir T; plain scalars stay plain, so `permissions: 0777` is still the text 0777.
//  1. Steps whose inputs hold a Windows path (a string starting with `C:\`, any drive
//     letter) are dropped from the copy: they target another OS, and kiln runs on Linux
//     here. Their names are therefore absent from the run.
//  2. The sandbox S = T/root plays both `/` and kiln's working directory: an absolute
//     `path`, `source`, `destination` or `target` input gets S as a prefix
//     (`/Sample/x` -> `S/Sample/x`), and a relative one is left as written, so it resolves
//     in S because kiln runs with S as its working directory.
//  3. An `owner` or `group` input other than `root` is a made-up name (LinuxUser, Ubuntu,
//     SampleGroupName, rootUserGroup, ...): it becomes the real test user kiln-test-owner
//     or group kiln-test-group, created as the other ownership tests do (root only).
// Per document, the table below holds only: the fixtures created in S before the run,
// the entries the run adds, changes or removes, every step's expected status (and, for a
// failure, its message), and the outputs/console text it must produce.
// After the run, S must hold exactly the fixtures minus `gone`, plus `effects` (and their
// parent folders): each entry's type, bytes, link target, mode and owner are checked, and
// anything else found in S is an error. The original paths (each absolute one taken from
// `/`, each relative one from this test's working directory) must not exist before the
// run, nor after it: nothing was written outside the sandbox.
#include <doctest/doctest.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "actions/common/file_test_support.h"

namespace {

namespace fs = std::filesystem;
using kiln::file_test::kTestGroup;
using kiln::file_test::kTestOwner;
using kiln::test::TempDir;
using nlohmann::json;

const std::string kPrefix = "toadslop__aws_imagebuilder_component__test__";

// ---- the table -------------------------------------------------------------------------

enum class Type { File, Folder, Link };
constexpr unsigned kAnyMode = 0xFFFFFFFFu;  // not checked
constexpr unsigned kNewMode = 0xFFFFFFFEu;  // what a new entry gets: 0666/0777 minus the umask

// An entry of the sandbox, its path relative to S. `content` is a file's bytes or a link's
// target ({S} stands for the sandbox path). Owner/group nullptr: the user running the test.
struct Node {
  std::string path;
  Type type = Type::File;
  std::string content;
  unsigned mode = kAnyMode;
  const char* owner = nullptr;
  const char* group = nullptr;
};

Node File(std::string path, std::string content, unsigned mode = kNewMode, const char* owner = nullptr,
          const char* group = nullptr) {
  return {std::move(path), Type::File, std::move(content), mode, owner, group};
}
Node Folder(std::string path, unsigned mode = kNewMode, const char* owner = nullptr, const char* group = nullptr) {
  return {std::move(path), Type::Folder, "", mode, owner, group};
}
Node Link(std::string path, std::string target) {
  return {std::move(path), Type::Link, std::move(target)};
}

struct Step {
  std::string name{}, status{}, message{};  // message: the whole failure message ({S} = sandbox)
};
struct Output {
  std::string step, key, value;  // an output of the step, compared as text ({S} = sandbox)
};

struct CorpusDocument {
  std::string file{};               // without kPrefix and ".yaml"
  std::vector<Node> fixtures{};     // created before the run
  std::vector<std::string> gone{};  // fixture paths (with what is below them) the run removes
  std::vector<Node> effects{};      // entries the run creates or changes (full expected state)
  std::vector<Step> steps{};        // every step of the rewritten document, in order
  std::vector<Output> outputs{};
  std::vector<std::string> console{};  // text console.log must contain
  bool needs_root = false;             // gives files to another user
};

// ASCII text as UTF-16LE / UTF-32LE bytes (what kiln writes for `utf16`/`UTF-32`: no BOM).
std::string utf16le(const std::string& ascii) {
  std::string out;
  for (char c : ascii) out += std::string{c, '\0'};
  return out;
}
std::string utf32le(const std::string& ascii) {
  std::string out;
  for (char c : ascii) out += std::string{c, '\0', '\0', '\0'};
  return out;
}

const std::string kAppended = "The string to be appended to the file";
const std::string kCreated = "The text content of the sample file.";

const std::vector<CorpusDocument>& documents() {
  static const std::vector<CorpusDocument> table = {
      {.file = "append-file",
       .fixtures = {File("Sample.txt", "first line\n", 0644), File("FolderName/SampleFile.txt", utf32le("A"), 0600)},
       .effects = {File("Sample.txt", "first line\n" + kAppended, 0644),
                   File("FolderName/SampleFile.txt", utf32le("A" + kAppended), 0600)},
       .steps = {{"AppendingFileWithOutEncodingLinux", "success"},
                 {"AppendingFileWithEncodingLinux", "success"},
                 {"AppendingEmptyStringLinux", "success"}}},

      {.file = "copy-file",
       .fixtures = {File("Sample/MyFolder/Sample.txt", "sample\n", 0640),
                    File("Sample/MyFolder/Sample2.log", "second\n", 0600),
                    File("Sample/MyFolder/Other.txt", "not matched\n", 0644),
                    Folder("Sample/MyFolder/SampleDir", 0755)},  // CopyFile's `*` matches files only
       .effects = {File("MyFolder/destinationFile.txt", "sample\n", 0640),
                   File("MyFolder/Sample.txt", "sample\n", 0640), File("MyFolder/Sample2.log", "second\n", 0600)},
       .steps = {{"CopyingAFileLinux", "success"},
                 {"CopyingFileWithSourceFileNameLinux", "success"},
                 {"CopyingFilesWithWildCardLinux", "success"}}},

      {.file = "copy-folder",
       .fixtures = {Folder("Sample/MyFolder/SampleFolder", 0750),
                    File("Sample/MyFolder/SampleFolder/a.txt", "a\n", 0644),
                    File("Sample/MyFolder/SampleFolder/sub/b.txt", "b\n", 0600),
                    Link("Sample/MyFolder/SampleFolder/sub/to-a", "../a.txt"),
                    File("Sample/MyFolder/SourceFolder/c.txt", "c\n", 0640),
                    File("Sample/MyFolder/Sample.txt", "a file: CopyFolder's `*` skips it\n", 0644)},
       .effects = {Folder("MyFolder/destinationFolder", 0750), File("MyFolder/destinationFolder/a.txt", "a\n", 0644),
                   File("MyFolder/destinationFolder/sub/b.txt", "b\n", 0600),
                   Link("MyFolder/destinationFolder/sub/to-a", "../a.txt"),
                   File("MyFolder/SourceFolder/c.txt", "c\n", 0640), Folder("MyFolder/SampleFolder", 0750),
                   File("MyFolder/SampleFolder/a.txt", "a\n", 0644),
                   File("MyFolder/SampleFolder/sub/b.txt", "b\n", 0600),
                   Link("MyFolder/SampleFolder/sub/to-a", "../a.txt")},
       .steps = {{"CopyingAFolderLinux", "success"},
                 {"CopyingFolderSourceFolderNameLinux", "success"},
                 {"CopyingFoldersWithWildCardLinux", "success"}}},

      {.file = "create-file",
       .effects = {File("home/UserName/Sample.txt", kCreated),
                   File("SampleFolder/Sample.txt", utf16le(kCreated), 0777, kTestOwner, kTestGroup),
                   File("SampleFolder/SampleFile.txt", "", 0755),
                   File("SampleFolder/TextFile.txt", "", kNewMode, "root", kTestGroup), File("Sample.txt", ""),
                   File("Sample1.txt", "")},
       .steps = {{"CreatingFileWithoutOverwriteLinux", "success"},
                 {"CreatingFileWithFileProperties", "success"},
                 {"CreatingFileWithoutFileProperties", "success"}},
       .needs_root = true},

      {.file = "create-folder",
       .effects = {Folder("Sample/MyFolder"), Folder("Sample/MyFolder/Sample", 0777, kTestOwner, kTestGroup),
                   Folder("Sample/MyFolder/SampleFoler", 0777)},
       .steps = {{"CreatingFolderLinux", "success"},
                 {"CreatingFolderWithFolderProperties", "success"},
                 {"CreatingFolderWithOverwrite", "success"}},  // accepts the folder, changes nothing
       .needs_root = true},

      // The links' paths differ (Folder2/Symboliclink.txt, then ./Symboliclink.txt), so the
      // second step, without force, does not meet the first one's link.
      {.file = "create-symlink",
       .fixtures = {File("Folder/Sample.txt", "link target\n", 0644)},
       .effects = {Link("Folder2/Symboliclink.txt", "{S}/Folder/Sample.txt"),
                   Link("Symboliclink.txt", "{S}/Folder/Sample.txt")},
       .steps = {{"CreatingSymbolicLinkWithForce", "success"}, {"CreatingSymbolicLinkWithOutForce", "success"}}},

      {.file = "delete-folder",
       .fixtures = {File("Sample/MyFolder/Sample/a.txt", "a\n", 0644),
                    File("Sample/MyFolder/Sample/sub/b.txt", "b\n", 0644),
                    File("Sample/MyFolder/keep.txt", "keep\n", 0644)},
       .gone = {"Sample/MyFolder/Sample"},
       .steps = {{"DeletingFolderWithForceOptionLinux", "success"},
                 {"DeletingFolderWithOutForceLinux", "success"}}},  // already gone: nothing to do

      {.file = "file-and-folder-permissions",
       .fixtures = {File("home/UserName/SampleFile.txt", "x\n", 0644), File("SampleFolder/f.txt", "f\n", 0644),
                    Folder("SampleFolder/sub", 0700), File("SampleFolder/sub/g.txt", "g\n", 0600),
                    Folder("home/UserName/SampleFolder", 0755),
                    File("home/UserName/SampleFolder/inner.txt", "i\n", 0640)},
       .effects = {File("home/UserName/SampleFile.txt", "x\n", 0766), Folder("SampleFolder", 0777),
                   File("SampleFolder/f.txt", "f\n", 0777), Folder("SampleFolder/sub", 0777),
                   File("SampleFolder/sub/g.txt", "g\n", 0777),
                   Folder("home/UserName/SampleFolder", 0777)},  // not recursive: inner.txt keeps 0640
       .steps = {{"ModifyingFilePermissions", "success"},
                 {"SettingFolderPermissions", "success"},
                 {"SettingFolderPermissionsNoRecursive", "success"}}},

      {.file = "list-files",
       .fixtures = {File("Sample/MyFolder/Sample/a.txt", "a", 0644), File("Sample/MyFolder/Sample/b.log", "b", 0644),
                    File("Sample/MyFolder/Sample/deep/c.log", "c", 0644), File("Sample/MyFolder/app.log", "l", 0644),
                    File("Sample/MyFolder/notes.txt", "n", 0644), File("Sample/MyFolder/syslog", "s", 0644)},
       .steps = {{"ListingFilesInSampleFolderLinux", "success"},
                 {"ListingFilesWithEndingWithLogLinux", "success"},
                 {"ListingFilesRecursively", "success"}},
       .outputs = {{"ListingFilesInSampleFolderLinux", "files",
                    "{S}/Sample/MyFolder/Sample/a.txt,{S}/Sample/MyFolder/Sample/b.log"},
                   {"ListingFilesWithEndingWithLogLinux", "files",
                    "{S}/Sample/MyFolder/app.log,{S}/Sample/MyFolder/syslog"},
                   {"ListingFilesRecursively", "files",
                    "{S}/Sample/MyFolder/Sample/a.txt,{S}/Sample/MyFolder/Sample/b.log,"
                    "{S}/Sample/MyFolder/Sample/deep/c.log,{S}/Sample/MyFolder/app.log,"
                    "{S}/Sample/MyFolder/notes.txt,{S}/Sample/MyFolder/syslog"}}},

      // The document contradicts itself: the first step moves Sample.txt away, the second
      // moves the same source again. It fails (onFailure defaults to Abort) and the rest of
      // the phase does not run, so Sample2.txt, which the wildcard step would move, stays.
      {.file = "move-file",
       .fixtures = {File("Sample/MyFolder/Sample.txt", "sample\n", 0640),
                    File("Sample/MyFolder/Sample2.txt", "second\n", 0644)},
       .gone = {"Sample/MyFolder/Sample.txt"},
       .effects = {File("MyFolder/destinationFile.txt", "sample\n", 0640)},
       .steps = {{"MovingAFileLinux", "success"},
                 {"MovingFileWithSourceFileNameLinux", "failed",
                  "item 0 ({S}/Sample/MyFolder/Sample.txt): {S}/Sample/MyFolder/Sample.txt does not exist"},
                 {"MovingFilesWithWildCardLinux", "notRun"},
                 {"MovingFilesWithoutOverwriteLinux", "notRun"}}},

      {.file = "move-folder",
       .fixtures = {Folder("Sample/MyFolder/SourceFolder", 0750),
                    File("Sample/MyFolder/SourceFolder/x.txt", "x\n", 0640),
                    File("Sample/MyFolder/SourceFolder/sub/y.txt", "y\n", 0600),
                    Link("Sample/MyFolder/SourceFolder/sub/to-x", "../x.txt")},
       .gone = {"Sample/MyFolder/SourceFolder"},
       .effects = {Folder("MyFolder/destinationFolder", 0750), File("MyFolder/destinationFolder/x.txt", "x\n", 0640),
                   File("MyFolder/destinationFolder/sub/y.txt", "y\n", 0600),
                   Link("MyFolder/destinationFolder/sub/to-x", "../x.txt")},
       .steps = {{"MovingAFolderLinux", "success"}}},

      {.file = "read-file",
       .fixtures = {File("home/UserName/SampleFile.txt", "Hello from SampleFile.txt\nsecond line\n", 0644),
                    File("FolderName/SampleFile.txt", kiln::file_test::kSampleUtf32LE, 0644)},
       .steps = {{"ReadingFileLinux", "success"},
                 {"ReadingFileWithFileEncoding", "success"},
                 {"ReadingFileToConsole", "success"}},
       .outputs = {{"ReadingFileLinux", "content", "Hello from SampleFile.txt\nsecond line\n"},
                   {"ReadingFileWithFileEncoding", "content", kiln::file_test::kSample},
                   {"ReadingFileToConsole", "content", "Hello from SampleFile.txt\nsecond line\n"}},
       .console = {"Hello from SampleFile.txt"}},

      // Only the final owner can be seen: the second step gives the group too.
      {.file = "set-file-owner",
       .fixtures = {File("home/UserName/SampleText.txt", "owned\n", 0644)},
       .effects = {File("home/UserName/SampleText.txt", "owned\n", 0644, kTestOwner, kTestGroup)},
       .steps = {{"SettingFileOwnerPropertyNoGroup", "success"}, {"SettingFileOwnerProperty", "success"}},
       .needs_root = true},

      // Recursive by default: the last step (with the group) reaches everything, links too
      // (their own owner; what they point to is inside the tree anyway).
      {.file = "set-folder-owner",
       .fixtures = {File("SampleFolder/a.txt", "a\n", 0644), File("SampleFolder/sub/b.txt", "b\n", 0600),
                    Link("SampleFolder/sub/to-a", "../a.txt")},
       .effects = {Folder("SampleFolder", kAnyMode, kTestOwner, kTestGroup),
                   File("SampleFolder/a.txt", "a\n", 0644, kTestOwner, kTestGroup),
                   Folder("SampleFolder/sub", kAnyMode, kTestOwner, kTestGroup),
                   File("SampleFolder/sub/b.txt", "b\n", 0600, kTestOwner, kTestGroup),
                   {"SampleFolder/sub/to-a", Type::Link, "../a.txt", kAnyMode, kTestOwner, kTestGroup}},
       .steps = {{"SettingFolderPropertyWithOutGroup", "success"},
                 {"SettingFolderPropertyWithOutRecursively", "success"},
                 {"SettingFolderPropertyWithGroup", "success"}},
       .needs_root = true},
  };
  return table;
}

const std::string kRebootDocument = "fdool73__ec2-image-builder-hardening-pipeline__files__reboot-linux.yml";

// Candidates this test does not run, and why.
const std::vector<std::pair<std::string, std::string>> kNotRun = {
    {"toadslop__aws_imagebuilder_component__test__update-os.yaml",
     "UpdateOS only: needs the network and upgrades this machine's packages"},
    {"awsdocs__ec2-image-builder-user-guide__doc_source__create-component-yaml.md__block00__extracted.yml",
     "UpdateOS only: needs the network and upgrades this machine's packages"},
    {"awsdocs__ec2-image-builder-user-guide__doc_source__create-component-yaml.md__block01__extracted.yml",
     "UpdateOS only: needs the network and upgrades this machine's packages"},
    {"awsdocs__ec2-image-builder-user-guide__doc_source__security-patch-management.md__block00__extracted.yml",
     "UpdateOS only: needs the network and upgrades this machine's packages"},
};

// ---- rewriting -------------------------------------------------------------------------

std::string substitute(std::string text, const std::string& sandbox) {
  for (size_t at = text.find("{S}"); at != std::string::npos; at = text.find("{S}", at + sandbox.size()))
    text.replace(at, 3, sandbox);
  return text;
}

bool holds_windows_path(const YAML::Node& node) {
  static const std::regex drive(R"(^[A-Za-z]:\\)");
  if (node.IsScalar()) return std::regex_search(node.Scalar(), drive);
  if (node.IsSequence())
    for (const auto& child : node)
      if (holds_windows_path(child)) return true;
  if (node.IsMap())
    for (const auto& entry : node)
      if (holds_windows_path(entry.second)) return true;
  return false;
}

struct Rewritten {
  std::string yaml;
  std::vector<std::string> dropped;         // names of the Windows steps left out
  std::vector<std::string> original_paths;  // path-like inputs of the kept steps, as written
};

// Rules 1-3 of the comment at the top.
Rewritten rewrite(const std::string& original, const std::string& sandbox) {
  Rewritten out;
  YAML::Node document = YAML::LoadFile(original);
  for (auto phase : document["phases"]) {
    YAML::Node kept(YAML::NodeType::Sequence);
    for (auto step : phase["steps"]) {
      if (holds_windows_path(step["inputs"])) {
        out.dropped.push_back(step["name"].as<std::string>());
        continue;
      }
      YAML::Node inputs = step["inputs"];
      std::vector<YAML::Node> items;
      if (inputs.IsSequence())
        for (auto item : inputs) items.push_back(item);
      else if (inputs.IsMap())
        items.push_back(inputs);
      for (auto& item : items) {
        if (!item.IsMap()) continue;
        for (auto entry : item) {
          std::string key = entry.first.as<std::string>();
          if (!entry.second.IsScalar()) continue;
          std::string value = entry.second.Scalar();
          if (key == "path" || key == "source" || key == "destination" || key == "target") {
            out.original_paths.push_back(value);
            if (value.starts_with("/")) item[key] = sandbox + value;
          } else if ((key == "owner" || key == "group") && value != "root") {
            item[key] = std::string(key == "owner" ? kTestOwner : kTestGroup);
          }
        }
      }
      kept.push_back(step);
    }
    phase["steps"] = kept;
  }
  YAML::Emitter emitter;
  emitter << document;
  out.yaml = std::string(emitter.c_str()) + "\n";
  return out;
}

// The outermost part of `path` that does not exist (absolute paths from `/`, relative ones
// from our working directory), stopping before a `*`; "" when the whole path exists.
std::string first_missing(const std::string& path) {
  fs::path full = path.starts_with("/") ? fs::path(path) : fs::current_path() / path;
  fs::path probe;
  for (const auto& part : full) {
    if (part.string().find('*') != std::string::npos) break;
    probe /= part;
    if (!kiln::file_test::exists(probe.string())) return probe.string();
  }
  return "";
}

// ---- checking the sandbox --------------------------------------------------------------

void add_with_parents(std::map<std::string, Node>& tree, const Node& node) {
  for (fs::path parent = fs::path(node.path).parent_path(); !parent.empty(); parent = parent.parent_path())
    if (!tree.count(parent.string())) tree[parent.string()] = Folder(parent.string(), kAnyMode);
  tree[node.path] = node;
}

void create_fixture(const std::string& sandbox, const Node& node) {
  std::string path = sandbox + "/" + node.path;
  fs::create_directories(fs::path(path).parent_path());
  if (node.type == Type::Link) {
    fs::create_symlink(node.content, path);
    return;
  }
  if (node.type == Type::Folder)
    fs::create_directories(path);
  else
    std::ofstream(path, std::ios::binary) << node.content;
  REQUIRE(node.mode != kNewMode);
  if (node.mode != kAnyMode) REQUIRE(::chmod(path.c_str(), node.mode) == 0);
}

void check_node(const std::string& sandbox, const Node& node) {
  std::string path = sandbox + "/" + node.path;
  INFO("sandbox entry " << node.path);
  struct stat st {};
  REQUIRE_MESSAGE(::lstat(path.c_str(), &st) == 0, "missing");
  mode_t mask = kiln::file_test::current_umask();
  switch (node.type) {
    case Type::File:
      REQUIRE(S_ISREG(st.st_mode));
      CHECK(kiln::test::read_file(path) == node.content);
      break;
    case Type::Folder:
      REQUIRE(S_ISDIR(st.st_mode));
      break;
    case Type::Link:
      REQUIRE(S_ISLNK(st.st_mode));
      CHECK(fs::read_symlink(path).string() == substitute(node.content, sandbox));
      break;
  }
  unsigned expected_mode = node.mode;
  if (expected_mode == kNewMode) expected_mode = (node.type == Type::Folder ? 0777u : 0666u) & ~mask;
  if (node.type != Type::Link && expected_mode != kAnyMode) CHECK((st.st_mode & 07777) == expected_mode);
  uid_t uid = node.owner ? kiln::file_test::uid_of(node.owner) : ::geteuid();
  gid_t gid = node.group ? kiln::file_test::gid_of(node.group) : ::getegid();
  CHECK(st.st_uid == uid);
  CHECK(st.st_gid == gid);
}

std::vector<std::string> step_names(const json& detailed) {
  std::vector<std::string> names;
  for (const auto& doc : detailed.value("documents", json::array()))
    for (const auto& phase : doc.value("phases", json::array()))
      for (const auto& step : phase.value("steps", json::array())) names.push_back(step.value("name", ""));
  return names;
}

std::string joined(const std::vector<std::string>& items, const std::string& separator) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : separator) + item;
  return out;
}

// Rewrites, prepares and runs one document, then checks every effect. Returns a note for
// the final message (the dropped Windows steps).
std::string run_corpus_document(const CorpusDocument& doc) {
  const std::string file = kPrefix + doc.file + ".yaml";
  INFO("document " << file);
  TempDir dir;
  const std::string sandbox = dir.file("root");
  fs::create_directories(sandbox);

  Rewritten rewritten = rewrite(std::string(KILN_CORPUS_DIR) + "/docs/" + file, sandbox);
  INFO("rewritten document:\n" << rewritten.yaml);
  std::string document = dir.write(file, rewritten.yaml);

  // Nothing at the original paths before the run (else the check after it proves nothing).
  std::set<std::string> probes;
  for (const auto& original : rewritten.original_paths) {
    std::string missing = first_missing(original);
    CHECK_MESSAGE(!missing.empty(), original << " exists on this machine before the run");
    if (!missing.empty()) probes.insert(missing);
  }

  std::map<std::string, Node> expected;
  for (const auto& node : doc.fixtures) {
    create_fixture(sandbox, node);
    add_with_parents(expected, node);
  }
  for (const auto& gone : doc.gone)
    std::erase_if(expected,
                  [&](const auto& entry) { return entry.first == gone || entry.first.starts_with(gone + "/"); });
  for (const auto& node : doc.effects) add_with_parents(expected, node);

  kiln::e2e::KilnRun run;
  run.log_directory = dir.file("logs");
  run.result = kiln::test::run_kiln({"run", "--documents", document, "--log-directory", run.log_directory}, sandbox);
  run.folder = kiln::test::find_log_folder(run.log_directory);
  if (!run.folder.empty()) run.detailed = kiln::test::read_detailed_output(run.log_directory);
  INFO(kiln::e2e::describe(run));

  // Steps: exactly the listed ones (the Windows ones were dropped), with their status.
  bool any_failed = false;
  std::vector<std::string> names;
  for (const auto& step : doc.steps) {
    names.push_back(step.name);
    INFO("step " << step.name);
    CHECK(run.status(step.name) == step.status);
    if (step.status == "failed") {
      any_failed = true;
      CHECK(kiln::file_test::failure_of(run, step.name) == substitute(step.message, sandbox));
    }
  }
  CHECK(step_names(run.detailed) == names);
  CHECK(run.exit_code() == (any_failed ? 1 : 0));

  for (const auto& output : doc.outputs) {
    INFO("output " << output.step << "." << output.key);
    json outputs = kiln::e2e::outputs_of(run.step(output.step));
    REQUIRE(outputs.is_object());
    REQUIRE(outputs.contains(output.key));
    CHECK(outputs[output.key].get<std::string>() == substitute(output.value, sandbox));
  }
  std::string console = run.console();
  for (const auto& text : doc.console) CHECK_MESSAGE(console.find(text) != std::string::npos, "console.log: " << text);

  // The sandbox holds exactly the expected entries.
  std::set<std::string> found;
  for (auto it = fs::recursive_directory_iterator(sandbox); it != fs::recursive_directory_iterator(); ++it)
    found.insert(it->path().lexically_relative(sandbox).string());
  std::set<std::string> wanted;
  for (const auto& [path, node] : expected) wanted.insert(path);
  for (const auto& path : found) CHECK_MESSAGE(wanted.count(path), "unexpected entry in the sandbox: " << path);
  for (const auto& entry : expected) {
    CHECK_MESSAGE(found.count(entry.first), "missing from the sandbox: " << entry.first);
    if (found.count(entry.first)) check_node(sandbox, entry.second);
  }

  // Nothing outside the sandbox.
  for (const auto& probe : probes)
    CHECK_MESSAGE(!kiln::file_test::exists(probe), "written outside the sandbox: " << probe);

  return rewritten.dropped.empty() ? "" : " (Windows steps dropped: " + joined(rewritten.dropped, ", ") + ")";
}

// reboot-linux.yml: a Reboot step, then an ExecuteBash echo. It needs no rewriting (no
// paths); with `--reboot-mode exit` kiln saves its state and exits 194 after the Reboot
// step (the reboot itself is the caller's), and the same command line run again (the
// machine came back) resumes with the next step.
void run_reboot_document() {
  INFO("document " << kRebootDocument);
  TempDir dir;
  fs::create_directories(dir.file("root"));
  std::string original = std::string(KILN_CORPUS_DIR) + "/docs/" + kRebootDocument;
  std::vector<std::string> args = {"run", "--documents", original, "--log-directory", dir.file("logs")};
  args.insert(args.end(), {"--state-directory", dir.file("state"), "--execution-id", "corpus-reboot"});
  args.insert(args.end(), {"--reboot-mode", "exit"});
  auto first = kiln::test::run_kiln(args, dir.file("root"));
  INFO("first run: exit " << first.exit_code << "\n" << first.out << "\n" << first.err);
  CHECK(first.exit_code == 194);
  json before = kiln::test::read_detailed_output(dir.file("logs"));
  CHECK(kiln::test::find_step(before, "RebootTest").value("status", "") == "success");

  auto second = kiln::test::run_kiln(args, dir.file("root"));
  INFO("second run: exit " << second.exit_code << "\n" << second.out << "\n" << second.err);
  CHECK(second.exit_code == 0);
  json after = kiln::test::read_detailed_output(dir.file("logs"));
  CHECK(kiln::test::find_step(after, "RebootTest").value("status", "") == "success");
  json hello = kiln::test::find_step(after, "HelloWorldStep");
  CHECK(hello.value("status", "") == "success");
  CHECK(kiln::e2e::stdout_of(hello) == "Hello World! Test.");
  CHECK(second.summary().value("rebootCount", -1) == 1);
  CHECK(fs::is_empty(dir.file("root")));  // it writes no file
}

}  // namespace

TEST_CASE("corpus run: the file-system documents of the corpus run in a sandbox and do what they say") {
  std::vector<std::string> ran;
  std::vector<std::pair<std::string, std::string>> not_run = kNotRun;
  bool root = ::geteuid() == 0 && kiln::file_test::have_test_owner();
  for (const auto& doc : documents()) {
    std::string file = kPrefix + doc.file + ".yaml";
    if (doc.needs_root && !root) {
      not_run.emplace_back(file, "SKIPPED: not root: it gives files to another user");
      continue;
    }
    ran.push_back(file + run_corpus_document(doc));
  }
  run_reboot_document();
  ran.push_back(kRebootDocument + " (with --reboot-mode exit, then the same command again)");

  std::ostringstream message;
  message << "corpus documents run (" << ran.size() << "):\n  " << joined(ran, "\n  ");
  message << "\nnot run (" << not_run.size() << "):";
  for (const auto& [file, reason] : not_run) message << "\n  " << file << ": " << reason;
  MESSAGE(message.str());
}

// Runs the real corpus documents (tests/corpus/docs) that use the network actions
// (S3Download, S3Upload, WebDownload) and otherwise only file actions, a bash step that runs
// what was downloaded, or an ExecuteBinary step that fails harmlessly here (onFailure:
// Continue), through the real kiln binary, against local servers, in a sandbox folder, and
// checks what each step did: the files on disk, the objects in the bucket, the requests the
// servers saw. The other candidates (valid, Linux or "any", using one of those actions)
// are not run: they are listed with the reason in kNotRun, and a test checks that the two
// lists cover every candidate of corpus.tsv (Windows and invalid documents are not
// candidates).
// The lists of documents run and not run are printed with MESSAGE.
// (tests/e2e/corpus_run_test.cpp does the same for the file-system documents.)
//
// Servers (tests/support): S3Server (s3rver behind the SigV4-verifying proxy; it has one
// bucket, kiln-test), NginxServer (plain HTTP, fixture files), FaultServer with TLS (a
// self-signed certificate). Each document gets fresh ones.
//
// Rewriting (mechanical, the same for every document). The original is read from
// KILN_CORPUS_DIR (never copied into the tree), parsed with yaml-cpp and emitted again into
// a fresh TempDir T; plain scalars stay plain (`expectedBucketOwner: 123456789022` is still
// the integer-looking text). Every scalar of the document is looked at (step inputs,
// parameter defaults, constant values), so a URL reached through `{{ Source }}` is
// rewritten too. The sandbox S = T/root plays `/` (and `C:\`) and kiln's working directory.
//  1. A Windows path (a string starting with `C:\`, any drive letter) becomes S plus the
//     rest with `/` for `\`, the drive dropped: `C:\myfolder\package.zip` ->
//     `S/myfolder/package.zip`, `C:\myfolder\` -> `S/myfolder/` (a trailing separator, the
//     "into this folder" form, is kept).
//  2. An absolute `path`, `source`, `destination` or `target` input gets S as a prefix
//     (`/tmp/x.zip` -> `S/tmp/x.zip`); a relative one is left as written.
//  3. `s3://<bucket>/<key>` -> `s3://kiln-test/<bucket>/<key>`: each document bucket is a
//     key prefix inside the test bucket (s3rver is started with that one bucket).
//  4. `http(s)://<host>/<path>` -> `http://127.0.0.1:<nginx port>/<host>/<path>`, served by
//     nginx from the document's fixture files; except in an input item with
//     `ignoreCertificateErrors: true`, where it becomes
//     `https://127.0.0.1:<TLS port>/data/<kTlsBytes>/<host>/<path>` on the TLS fault server
//     (self-signed: only ignoring the certificate lets it through), which serves its
//     pattern bytes there and keeps the URL's file name.
//  5. `expectedBucketOwner` values are kept, and the S3 server's proxy is started with that
//     owner (kOwner, the only value in these documents): it refuses a request naming
//     another owner, and its log must show the header on every request kiln made. For a
//     document without one, the proxy has no owner and the log must show no header.
//  6. A `checksum` input (with its `algorithm`) is kept as written by default: it is the
//     digest of the real file, which a fixture cannot match, so the step's failure is the
//     expected outcome. A table entry with rewrite_checksums instead replaces it with the
//     digest of the fixture the URL serves, computed by the coreutils tool (md5sum,
//     sha1sum, sha256sum or sha512sum) - both are run for web-download.yaml.
//  7. In an ExecuteBash command, each absolute path that a path input of the document names
//     (rule 2), where it stands as a path (after a space, a quote or `=`, or at the start,
//     and before `/`, a space, a quote or the end), gets the same prefix:
//     `bash /temp/tests/run-tests.sh` -> `bash S/temp/tests/run-tests.sh`.
// Per document, the table below holds only: the sandbox files, bucket objects and web files
// present before the run, what the run adds or removes, every step's expected status (and,
// for a failure, its whole message), every failed attempt (events.jsonl: a retried step's
// first failure is seen only there), outputs, and the number of requests per URL.
// Oracles outside kiln: after the run S must hold exactly the fixtures minus `gone` plus
// `effects` (and their parent folders), each file byte-for-byte and by sha256sum equal to
// what the server served; the bucket, listed with the AWS CLI, must hold exactly the
// fixture objects plus `uploads`, each fetched with the AWS CLI and compared with the local
// file; nginx's access log and the fault server's request log count the GETs; the S3
// proxy's log shows every request signed correctly and carrying the expected owner, and
// exactly the expected requests (method and path, e.g. one listing per prefix download). The
// statuses from detailedoutput.json are a secondary check. The original Linux paths must
// not exist before the run, nor after it: nothing was written outside the sandbox.
#include <doctest/doctest.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <regex>
#include <set>
#include <sstream>

#include "actions/common/file_test_support.h"
#include "tests/support/http_servers.h"
#include "tests/support/s3_server.h"
#include "tests/support/skip.h"

namespace {

namespace fs = std::filesystem;
using kiln::test::TempDir;
using nlohmann::json;

const std::string kToadslop = "toadslop__aws_imagebuilder_component__test__";
const std::string kVariables = "awsdocs__ec2-image-builder-user-guide__doc_source__toe-user-defined-variables.md__";
const std::string kSamples = "aws-samples__amazon-ec2-image-builder-samples__";
const std::string kHpc = "aws-samples__aws-hpc-recipes__recipes__";
const std::string kToe = "awsdocs__ec2-image-builder-user-guide__doc_source__toe-use-documents.md__";
const std::string kOwner = "123456789022";  // the expectedBucketOwner of s3-download and s3-upload
constexpr size_t kTlsBytes = 5000;           // what the TLS fault server serves (rule 4)

// ---- fixtures ----------------------------------------------------------------------------

// Binary, NULs included, not a multiple of any buffer size.
std::string blob(size_t n, unsigned seed) {
  std::string out(n, '\0');
  for (size_t i = 0; i < n; ++i) out[i] = static_cast<char>((i * (seed * 2 + 1) + seed) % 251);
  return out;
}
const std::string kPackage = "PK\x03\x04 package.zip fixture " + blob(300'001, 3);
const std::string kJava = "PK\x03\x04 java14.zip fixture " + blob(150'017, 5);
const std::string kSetup = "MZ AWSCLISetup.exe fixture " + blob(90'001, 11);
const std::string kRunTests =
    "#!/bin/bash\n# run-tests.sh fixture\ncd \"$(dirname \"$0\")\"\necho \"tests ran in $PWD\" > results.txt\n"
    "echo '2 tests passed'\n";
const std::string kMsi = "\xD0\xCF\x11\xE0 AWSCLIV2.msi fixture " + blob(70'003, 7);

// ---- the table ---------------------------------------------------------------------------

// A sandbox file (path relative to S, its bytes; {S} stands for S) or, with folder, a folder.
struct Node {
  std::string path;
  std::string content{};
  bool folder = false;
};
Node File(std::string path, std::string content) { return {std::move(path), std::move(content)}; }
Node Folder(std::string path) { return {std::move(path), "", true}; }

struct Object {
  std::string key, content;  // key inside kiln-test (document bucket first, rule 3)
};
struct Served {
  std::string path, content;  // <host>/<path> on nginx (rule 4)
};
// Expected texts may hold {S} (the sandbox), {W} (nginx's base URL, http://127.0.0.1:<port>)
// and {md5:<host>/<path>} (md5sum's digest of that served file).
struct Step {
  std::string name{}, status{}, message{};  // message: the whole failure message
};
struct Output {
  std::string step, key, value;
};
// A failed attempt of a step, as events.jsonl records it (every one is listed).
struct Attempt {
  std::string step;
  int attempt = 0;
  std::string message;
};

struct NetworkDocument {
  std::string file{};
  std::string variant{};          // printed after the name when a document is run twice
  bool rewrite_checksums = false;  // rule 6
  bool s3 = false, web = false, tls = false;
  std::string owner{};             // the documents' expectedBucketOwner ("": none, no header)
  std::vector<std::string> parameters{};  // --parameters N=V (a required one without default)
  std::vector<Node> fixtures{};    // in S before the run
  std::vector<Object> objects{};   // in the bucket before the run
  std::vector<Served> served{};    // on nginx
  std::vector<std::string> gone{};
  std::vector<Node> effects{};     // what the run creates or changes in S
  std::vector<Object> uploads{};   // what the run adds to the bucket
  std::vector<Step> steps{};       // every step, in order
  std::vector<Output> outputs{};
  std::vector<Attempt> failed_attempts{};
  std::map<std::string, int> s3_requests{};  // "METHOD /path" (no query) -> requests kiln sent (all listed)
  std::map<std::string, int> gets{};  // nginx path (<host>/<path>) -> GET requests expected
  int tls_gets = 0;                   // GET requests on the TLS fault server
};

const std::string kBadSslFile = std::string("tmp/downloads/resource");
const std::string kPrefixClash =
    "item 0 (s3://kiln-test/amzn-s3-demo-source-bucket/path/to/*): {S}/myfolder/package.zip already exists and "
    "overwrite is false (nothing was downloaded)";
const std::string kSetupRefused = "cannot run '{S}/Windows/temp/AWSCLISetup.exe': Permission denied";
const std::string kNoMsiexec = "cannot run '{S}/Windows/System32/msiexec.exe': No such file or directory";
const std::string kJavaClash =
    "item 0 ({W}/testdomain/path/to/java14.zip): {S}/create_new_folder/java14_renamed.zip exists and overwrite is "
    "false; downloaded before the failure: none";

const std::vector<NetworkDocument>& documents() {
  static const std::vector<NetworkDocument> table = {
      // The first step downloads the same object three times (overwrite false on a fresh
      // destination, then true, then the default true). The second step's first item,
      // a prefix download with overwrite false, meets package.zip written by the first
      // step: kiln checks every destination before downloading anything, so it fails
      // without downloading, three times (maxAttempts: 3), and the items that would
      // overwrite never run. The document cannot succeed as written.
      {.file = kToadslop + "s3-download.yaml",
       .s3 = true,
       .owner = kOwner,
       .objects = {{"amzn-s3-demo-source-bucket/path/to/package.zip", kPackage},
                   {"amzn-s3-demo-source-bucket/path/to/notes.txt", "notes\n"},
                   {"amzn-s3-demo-source-bucket/path/to/sub/deep.txt", "deep\n"},
                   {"amzn-s3-demo-source-bucket/path/other.txt", "outside the prefix\n"}},
       .effects = {File("myfolder/package.zip", kPackage)},
       .steps = {{"DownloadMyFile", "success"},
                 {"MyS3DownloadKeyprefix", "failed", kPrefixClash}},
       .failed_attempts = {{"MyS3DownloadKeyprefix", 1, kPrefixClash},
                           {"MyS3DownloadKeyprefix", 2, kPrefixClash},
                           {"MyS3DownloadKeyprefix", 3, kPrefixClash}},
       .s3_requests = {{"GET /kiln-test/amzn-s3-demo-source-bucket/path/to/package.zip", 3},
                       {"GET /kiln-test/", 3}}},  // one listing per attempt

      // A file to a key, then the folder's files (`*`: files only, no recurse) under a
      // prefix: package.zip is uploaded twice, sub/ not at all.
      {.file = kToadslop + "s3-upload.yaml",
       .s3 = true,
       .owner = kOwner,
       .fixtures = {File("myfolder/package.zip", kPackage), File("myfolder/readme.txt", "read me\n"),
                    File("myfolder/sub/inner.txt", "not uploaded without recurse\n")},
       .uploads = {{"amzn-s3-demo-destination-bucket/path/to/package.zip", kPackage},
                   {"amzn-s3-demo-destination-bucket/path/to/readme.txt", "read me\n"}},
       .steps = {{"MyS3UploadFile", "success"}, {"MyS3UploadMultipleFiles", "success"}},
       .s3_requests = {{"PUT /kiln-test/amzn-s3-demo-destination-bucket/path/to/package.zip", 2},
                       {"PUT /kiln-test/amzn-s3-demo-destination-bucket/path/to/readme.txt", 1}}},

      // Checksum as written (the MD5 of the real java14.zip): the fixture cannot match it.
      // The failing step retries (maxAttempts: 3); on the second attempt its first item
      // (overwrite: false) meets the file the first attempt wrote, so the step's final
      // message is that clash, not the checksum. The TLS step never runs.
      {.file = kToadslop + "web-download.yaml",
       .variant = "checksum as written: expected to fail",
       .web = true,
       .tls = true,
       .served = {{"testdomain/path/to/java14.zip", kJava}},
       .effects = {File("testfolder/package.zip", kJava), File("tmp/java14_renamed.zip", kJava),
                   File("tmp/create_new_folder_and_add_java14_as_zip/java14.zip", kJava),
                   File("create_new_folder/java14_renamed.zip", kJava),
                   Folder("create_new_folder_and_add_java14_as_zip")},
       .steps = {{"DownloadRemoteFile", "success"},
                 {"DownloadRemoteFiles", "success"},
                 {"DownloadRemoteMultipleProperties", "failed", kJavaClash},
                 {"DownloadRemoteIgnoreValidation", "notRun"}},
       .failed_attempts = {{"DownloadRemoteMultipleProperties", 1,
                            "item 1 ({W}/testdomain/path/to/java14.zip): GET {W}/testdomain/path/to/java14.zip: checksum "
                            "mismatch: expected ac68bbf921d953d1cfab916cb6120864, the download has "
                            "{md5:testdomain/path/to/java14.zip} after 1 attempt; downloaded before the failure: "
                            "{S}/create_new_folder/java14_renamed.zip"},
                           {"DownloadRemoteMultipleProperties", 2, kJavaClash},
                           {"DownloadRemoteMultipleProperties", 3, kJavaClash}},
       .gets = {{"testdomain/path/to/java14.zip", 5}}},

      // Checksum rewritten to the fixture's MD5 (md5sum): every step succeeds, the last one
      // through the self-signed TLS server.
      {.file = kToadslop + "web-download.yaml",
       .variant = "checksum rewritten to the fixture's md5sum",
       .rewrite_checksums = true,
       .web = true,
       .tls = true,
       .served = {{"testdomain/path/to/java14.zip", kJava}},
       .effects = {File("testfolder/package.zip", kJava), File("tmp/java14_renamed.zip", kJava),
                   File("tmp/create_new_folder_and_add_java14_as_zip/java14.zip", kJava),
                   File("create_new_folder/java14_renamed.zip", kJava),
                   File("create_new_folder_and_add_java14_as_zip/java14.zip", kJava),
                   File(kBadSslFile, kiln::test::pattern_bytes(kTlsBytes))},
       .steps = {{"DownloadRemoteFile", "success"},
                 {"DownloadRemoteFiles", "success"},
                 {"DownloadRemoteMultipleProperties", "success"},
                 {"DownloadRemoteIgnoreValidation", "success"}},
       .outputs = {{"DownloadRemoteFile", "destination", "{S}/testfolder/package.zip"},
                   {"DownloadRemoteFiles", "destination",
                    "{S}/tmp/java14_renamed.zip\n{S}/tmp/create_new_folder_and_add_java14_as_zip/java14.zip"},
                   {"DownloadRemoteMultipleProperties", "destination",
                    "{S}/create_new_folder/java14_renamed.zip\n{S}/create_new_folder_and_add_java14_as_zip/java14.zip"},
                   {"DownloadRemoteIgnoreValidation", "destination", "{S}/" + kBadSslFile}},
       .gets = {{"testdomain/path/to/java14.zip", 5}},
       .tls_gets = 1},

      // The AWS guide's "install the AWS CLI" documents: download, install (onFailure:
      // Continue), delete. Install runs the downloaded Windows setup program, reached through
      // {{ build.Download.inputs[0].destination }}, so the rewritten path: a Linux kernel
      // refuses to execute it (downloaded files are not executable); onFailure: Continue
      // lets Delete remove the download, reached through the same reference, and the run
      // fails (exit 1: Continue is not Ignore).
      {.file = kToe + "block05__extracted.yml",
       .s3 = true,
       .objects = {{"aws-cli/AWSCLISetup.exe", kSetup}},
       .effects = {Folder("Windows/temp")},
       .steps = {{"Download", "success"}, {"Install", "failed", kSetupRefused}, {"Delete", "success"}},
       .failed_attempts = {{"Install", 1, kSetupRefused}},
       .s3_requests = {{"GET /kiln-test/aws-cli/AWSCLISetup.exe", 1}}},

      // The same with msiexec.exe, which does not exist here (C:\Windows\System32 is S/Windows/System32).
      {.file = kToe + "block06__extracted.yml",
       .s3 = true,
       .objects = {{"aws-cli/AWSCLI64PY3.msi", kMsi}},
       .effects = {Folder("Windows/temp")},
       .steps = {{"Download", "success"}, {"Install", "failed", kNoMsiexec}, {"Delete", "success"}},
       .failed_attempts = {{"Install", 1, kNoMsiexec}},
       .s3_requests = {{"GET /kiln-test/aws-cli/AWSCLI64PY3.msi", 1}}},

      // The bucket is a parameter (s3://{{ S3BucketName }}/... is rewritten by rule 3 like any
      // s3:// text, so the value is the document's own bucket name). Two folders, two prefix
      // downloads (the second overwrites tests/run-tests.sh, which the first brought along,
      // keeping the key structure), then bash runs the downloaded script (rule 7): it
      // writes results.txt next to itself and prints a line.
      {.file = "aws-ia__terraform-aws-ec2-image-builder__examples__linux__linuxtest.yaml",
       .s3 = true,
       .parameters = {"S3BucketName=terraform-scripts-bucket"},
       .objects = {{"terraform-scripts-bucket/scripts/setup.sh", "echo setup\n"},
                   {"terraform-scripts-bucket/scripts/tests/run-tests.sh", kRunTests},
                   {"terraform-scripts-bucket/other/not-downloaded.txt", "outside the prefixes\n"}},
       .effects = {Folder("temp"), File("temp/setup.sh", "echo setup\n"), File("temp/tests/run-tests.sh", kRunTests),
                   File("temp/tests/results.txt", "tests ran in {S}/temp/tests\n")},
       .steps = {{"CreatingScriptsFolder", "success"},
                 {"CreatingTestsFolder", "success"},
                 {"DownloadScripts", "success"},
                 {"DownloadTestScripts", "success"},
                 {"RunTests", "success"}},
       .outputs = {{"RunTests", "stdout", "2 tests passed"}},
       .s3_requests = {{"GET /kiln-test/", 2},
                       {"GET /kiln-test/terraform-scripts-bucket/scripts/setup.sh", 1},
                       {"GET /kiln-test/terraform-scripts-bucket/scripts/tests/run-tests.sh", 2}}},

      // The URL is a parameter's default, reached through {{ Source }}.
      {.file = kVariables + "block01__extracted.yml",
       .web = true,
       .served = {{"awscli.amazonaws.com/AWSCLIV2.msi", kMsi}},
       .effects = {File("Windows/Temp/AWSCLIV2.msi", kMsi)},
       .steps = {{"Download", "success"}},
       .outputs = {{"Download", "destination", "{S}/Windows/Temp/AWSCLIV2.msi"}},
       .gets = {{"awscli.amazonaws.com/AWSCLIV2.msi", 1}}},

      // The same, the URL a constant.
      {.file = kVariables + "block08__extracted.yml",
       .web = true,
       .served = {{"awscli.amazonaws.com/AWSCLIV2.msi", kMsi}},
       .effects = {File("Windows/Temp/AWSCLIV2.msi", kMsi)},
       .steps = {{"Download", "success"}},
       .outputs = {{"Download", "destination", "{S}/Windows/Temp/AWSCLIV2.msi"}},
       .gets = {{"awscli.amazonaws.com/AWSCLIV2.msi", 1}}},
  };
  return table;
}

// Candidates (valid, Linux or "any", using S3Download, S3Upload or WebDownload) not run.
const std::vector<std::pair<std::string, std::string>> kNotRun = {
    {"aws-ia__terraform-aws-ec2-image-builder__examples__linux__linuxbuild.yaml",
     "UpdateOS and Reboot: upgrades and reboots this machine"},
    {kSamples + "CloudFormation__Docker__ubuntu-dotnet-web-application__ubuntu-dotnet-web-application-pipeline.yml"
                "__Component__extracted.yml",
     "the S3 source is an unrendered CloudFormation placeholder (${DotnetS3SourceTarFile}), and ExecuteBash unpacks "
     "and installs a web site under /"},
    {kSamples + "CloudFormation__Linux__amazon-linux-2023-attestable-image__base-template.yaml__KiwiNgComponent__"
                "extracted.yml",
     "Assert and ExecuteBash: installs kiwi-ng and builds an OS image"},
    {kSamples + "Components__Linux__ansible-playbook-execution-amazon-linux-2__component.yml",
     "ExecuteBinary and ExecuteBash: installs and runs Ansible"},
    {kSamples + "Components__Linux__chef-recipe-execution-linux__component.yml",
     "ExecuteBinary and ExecuteBash: installs and runs Chef"},
    {kSamples + "Components__Linux__inspec-recipe-execution-linux__inspec-test-linux-component.yml",
     "ExecuteBinary and ExecuteBash: installs and runs InSpec"},
    {kSamples + "Components__Linux__orca-security-scan-test-component-linux__test_component.yml",
     "placeholder bucket (<enter_s3_bucket_name_here>); ExecuteBash runs a third-party scanner with an API token"},
    {kHpc + "pcs__hpc_ready_ami__assets__components__install-efa.yaml__EfaInstaller__extracted.yml",
     "unrendered CloudFormation placeholders in the URL's host; ExecuteBash installs the EFA driver"},
    {kHpc + "pcs__hpc_ready_ami__assets__components__optimize-performance.yaml__OptimizePerformance__extracted.yml",
     "unrendered CloudFormation placeholders in the URLs' host; ExecuteBash retunes this machine"},
    {kHpc + "res__res_ready_ami__assets__components__research-and-engineering-studio-vdi-linux.yaml__"
            "RESVDILinuxInstaller__extracted.yml",
     "ExecuteBash installs the RES virtual desktop host software (writes under /root)"},
    {"aws-samples__deploy-cis-level-1-hardened-ami-with-ec2-image-builder-pipeline__AnsibleConfig__component-nginx.yml",
     "ExecuteBinary and ExecuteBash: installs Ansible and hardens this machine"},
    {kToe + "block04__extracted.yml",
     "ExecuteBinary runs the downloaded program; bucket, key and path are <replaceable> markup, which the shell "
     "command of its ExecuteBash step reads as redirections"},
    {"carlosmmatos__aws-ec2-image-builder__components__crowdstrike-falcon-install-linux.yml",
     "ExecuteDocument and ExecuteBash: installs the CrowdStrike Falcon sensor with an API secret"},
};

// ---- rewriting ---------------------------------------------------------------------------

std::string replace_all(std::string text, const std::string& from, const std::string& to) {
  for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size()))
    text.replace(at, from.size(), to);
  return text;
}

std::string joined(const std::vector<std::string>& items, const std::string& separator) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : separator) + item;
  return out;
}

// The first word of a coreutils tool's output for `file` (a digest).
std::string digest_by_tool(const std::string& tool, const std::string& file) {
  auto result = kiln::s3test::run({tool, file});
  REQUIRE_MESSAGE(result.exit_code == 0, tool << " failed: " << result.err);
  return result.out.substr(0, result.out.find(' '));
}
std::string sha256sum(const std::string& file) { return digest_by_tool("/usr/bin/sha256sum", file); }

struct Servers {
  std::unique_ptr<kiln::s3test::S3Server> s3;
  std::unique_ptr<kiln::test::NginxServer> nginx;
  std::unique_ptr<kiln::test::FaultServer> tls;
};

// The placeholders of an expected text (see the table's types).
std::string expand(std::string text, const std::string& sandbox, const Servers& servers) {
  text = replace_all(text, "{S}", sandbox);
  if (servers.nginx) {
    text = replace_all(text, "{W}", servers.nginx->url(""));
    static const std::regex md5(R"(\{md5:([^}]+)\})");
    for (std::smatch match; std::regex_search(text, match, md5);)
      text.replace(match.position(0), match.length(0),
                   digest_by_tool("/usr/bin/md5sum", servers.nginx->docroot() + "/" + match[1].str()));
  }
  return text;
}

struct Rewritten {
  std::string yaml;
  std::vector<std::string> probes;  // the original Linux paths (a folder destination with the file name)
};

class Rewriter {
 public:
  Rewriter(const std::string& sandbox, const Servers& servers, bool rewrite_checksums)
      : sandbox_(sandbox), servers_(servers), rewrite_checksums_(rewrite_checksums) {}

  Rewritten run(const std::string& original) {
    YAML::Node document = YAML::LoadFile(original);
    walk(document);
    prefix_bash_paths(document);
    YAML::Emitter emitter;
    emitter << document;
    out_.yaml = std::string(emitter.c_str()) + "\n";
    return out_;
  }

 private:
  static std::string last_segment(const std::string& url) { return url.substr(url.find_last_of('/') + 1); }

  // Rules 1, 3 and 4 for any scalar (4 with the plain-HTTP server).
  std::string scalar(const std::string& value) const {
    static const std::regex windows(R"(^[A-Za-z]:\\(.*)$)");
    static const std::regex web(R"(^https?://([^/]+)(/.*)?$)");
    std::smatch match;
    if (std::regex_match(value, match, windows)) {
      std::string rest = match[1];
      std::replace(rest.begin(), rest.end(), '\\', '/');
      return sandbox_ + "/" + rest;
    }
    if (value.starts_with("s3://")) return std::string("s3://") + kiln::s3test::kBucket + "/" + value.substr(5);
    if (std::regex_match(value, match, web)) {
      REQUIRE_MESSAGE(servers_.nginx, "a URL in a document run without nginx: " << value);
      return servers_.nginx->url("/" + match[1].str() + match[2].str());
    }
    return value;
  }

  // The nginx docroot file a (document) URL is served from.
  std::string served_file(const std::string& url) const {
    static const std::regex web(R"(^https?://([^/]+)(/.*)?$)");
    std::smatch match;
    REQUIRE(std::regex_match(url, match, web));
    return servers_.nginx->docroot() + "/" + match[1].str() + match[2].str();
  }

  void walk(YAML::Node node) {
    if (node.IsSequence()) {
      for (auto child : node) walk_child(child);
    } else if (node.IsMap()) {
      bool insecure = node["ignoreCertificateErrors"] && node["ignoreCertificateErrors"].IsScalar() &&
                      node["ignoreCertificateErrors"].Scalar() == "true";
      std::string source = node["source"] && node["source"].IsScalar() ? node["source"].Scalar() : "";
      std::vector<std::pair<std::string, YAML::Node>> entries;
      for (auto entry : node) entries.emplace_back(entry.first.as<std::string>(), entry.second);
      for (auto& [key, value] : entries) {
        if (!value.IsScalar()) {
          walk(value);
          continue;
        }
        std::string text = value.Scalar();
        bool path_key = key == "path" || key == "source" || key == "destination" || key == "target";
        if (path_key && text.starts_with("/")) {  // rule 2
          out_.probes.push_back(text.ends_with("/") ? text + last_segment(source) : text);
          linux_paths_.insert(text.ends_with("/") ? text.substr(0, text.size() - 1) : text);
          node[key] = sandbox_ + text;
        } else if (key == "source" && insecure && text.starts_with("https://")) {  // rule 4, TLS
          REQUIRE_MESSAGE(servers_.tls, "an insecure download in a document run without the TLS server");
          node[key] = servers_.tls->url("/data/" + std::to_string(kTlsBytes) + "/" + text.substr(8));
        } else if (key == "checksum" && rewrite_checksums_) {  // rule 6
          std::string algorithm = node["algorithm"].as<std::string>();
          std::transform(algorithm.begin(), algorithm.end(), algorithm.begin(), ::tolower);
          node[key] = digest_by_tool("/usr/bin/" + algorithm + "sum", served_file(source));
        } else if (std::string rewritten = scalar(text); rewritten != text) {
          node[key] = rewritten;
        }
      }
    }
  }
  // Rule 7, after the walk: the path inputs' absolute paths in the bash commands.
  void prefix_bash_paths(YAML::Node document) {
    std::vector<std::string> paths(linux_paths_.begin(), linux_paths_.end());
    std::sort(paths.begin(), paths.end(), [](const auto& a, const auto& b) { return a.size() > b.size(); });
    static const std::regex special(R"([.^$|()\[\]{}*+?\\])");
    for (auto phase : document["phases"])
      for (auto step : phase["steps"]) {
        if (!step["action"] || step["action"].Scalar() != "ExecuteBash" || !step["inputs"]["commands"]) continue;
        for (YAML::Node command : step["inputs"]["commands"]) {
          std::string text = command.Scalar();
          for (const auto& path : paths) {
            std::regex at("(^|[\\s'\"=])" + std::regex_replace(path, special, "\\$&") + "(?=/|[\\s'\"]|$)");
            text = std::regex_replace(text, at, "$1" + sandbox_ + path);
          }
          if (text != command.Scalar()) command = text;
        }
      }
  }
  void walk_child(YAML::Node child) {
    if (child.IsScalar()) {
      std::string rewritten = scalar(child.Scalar());
      if (rewritten != child.Scalar()) child = rewritten;
    } else {
      walk(child);
    }
  }

  std::string sandbox_;
  std::set<std::string> linux_paths_;  // rule 7
  const Servers& servers_;
  bool rewrite_checksums_;
  Rewritten out_;
};

// The outermost part of `path` that does not exist; "" when the whole path exists.
std::string first_missing(const std::string& path) {
  fs::path probe;
  for (const auto& part : fs::path(path)) {
    probe /= part;
    if (!kiln::file_test::exists(probe.string())) return probe.string();
  }
  return "";
}

// ---- checking ----------------------------------------------------------------------------

void add_with_parents(std::map<std::string, Node>& tree, const Node& node) {
  for (fs::path parent = fs::path(node.path).parent_path(); !parent.empty(); parent = parent.parent_path())
    if (!tree.count(parent.string())) tree[parent.string()] = Folder(parent.string());
  tree[node.path] = node;
}

void create_fixture(const std::string& sandbox, const Node& node) {
  std::string path = sandbox + "/" + node.path;
  fs::create_directories(node.folder ? fs::path(path) : fs::path(path).parent_path());
  if (!node.folder) std::ofstream(path, std::ios::binary) << node.content;
}

void check_node(const std::string& sandbox, const Node& node) {
  std::string path = sandbox + "/" + node.path;
  INFO("sandbox entry " << node.path);
  struct stat st {};
  REQUIRE_MESSAGE(::lstat(path.c_str(), &st) == 0, "missing");
  if (node.folder) {
    CHECK(S_ISDIR(st.st_mode));
    return;
  }
  REQUIRE(S_ISREG(st.st_mode));
  std::string bytes = kiln::test::read_file(path);
  std::string content = replace_all(node.content, "{S}", sandbox);
  CHECK(bytes.size() == content.size());
  bool same = bytes == content;  // not printed: megabytes of binary
  CHECK_MESSAGE(same, "the bytes differ from what the server served");
  // The same by an independent tool: sha256sum of the file and of the expected bytes.
  TempDir tmp;
  CHECK(sha256sum(path) == sha256sum(tmp.write("expected", content)));
  CHECK(st.st_uid == ::geteuid());
}

std::vector<std::string> step_names(const json& detailed) {
  std::vector<std::string> names;
  for (const auto& doc : detailed.value("documents", json::array()))
    for (const auto& phase : doc.value("phases", json::array()))
      for (const auto& step : phase.value("steps", json::array())) names.push_back(step.value("name", ""));
  return names;
}

int count_lines_with(const std::string& text, const std::string& part) {
  int n = 0;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) n += line.find(part) != std::string::npos;
  return n;
}

std::string counts_text(const std::map<std::string, int>& counts) {
  std::string out;
  for (const auto& [what, n] : counts) out += what + " x" + std::to_string(n) + "\n";
  return out;
}

std::string label(const NetworkDocument& doc) { return doc.file + (doc.variant.empty() ? "" : " (" + doc.variant + ")"); }

void run_network_document(const NetworkDocument& doc) {
  INFO("document " << label(doc));
  TempDir dir;
  const std::string sandbox = dir.file("root");
  fs::create_directories(sandbox);

  Servers servers;
  if (doc.s3) {
    kiln::s3test::S3ServerOptions options;
    options.owner = doc.owner;
    servers.s3 = std::make_unique<kiln::s3test::S3Server>(options);
  }
  if (doc.web) servers.nginx = std::make_unique<kiln::test::NginxServer>();
  if (doc.tls) servers.tls = std::make_unique<kiln::test::FaultServer>(true);
  for (const auto& served : doc.served) servers.nginx->serve(served.path, served.content);
  for (const auto& object : doc.objects) REQUIRE(servers.s3->put_text(object.key, object.content));

  Rewritten rewritten =
      Rewriter(sandbox, servers, doc.rewrite_checksums).run(std::string(KILN_CORPUS_DIR) + "/docs/" + doc.file);
  INFO("rewritten document:\n" << rewritten.yaml);
  std::string document = dir.write("document.yml", rewritten.yaml);

  std::set<std::string> probes;
  for (const auto& original : rewritten.probes) {
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
  std::vector<std::string> args = {"run", "--documents", document, "--log-directory", run.log_directory};
  if (!doc.parameters.empty()) args.insert(args.end(), {"--parameters", joined(doc.parameters, ",")});
  run.result = kiln::test::run_kiln(args, sandbox,
                                    servers.s3 ? servers.s3->environment() : std::vector<std::string>{});
  run.folder = kiln::test::find_log_folder(run.log_directory);
  if (!run.folder.empty()) run.detailed = kiln::test::read_detailed_output(run.log_directory);
  INFO(kiln::e2e::describe(run));

  // Steps (secondary): exactly the document's, with their status and failure message.
  bool any_failed = false;
  std::vector<std::string> names;
  for (const auto& step : doc.steps) {
    names.push_back(step.name);
    INFO("step " << step.name);
    CHECK(run.status(step.name) == step.status);
    if (step.status == "failed") {
      any_failed = true;
      CHECK(kiln::e2e::failure_of(run, step.name) == expand(step.message, sandbox, servers));
    }
  }
  CHECK(step_names(run.detailed) == names);
  CHECK(run.exit_code() == (any_failed ? 1 : 0));
  for (const auto& output : doc.outputs) {
    INFO("output " << output.step << "." << output.key);
    json outputs = kiln::e2e::outputs_of(run.step(output.step));
    REQUIRE(outputs.is_object());
    REQUIRE(outputs.contains(output.key));
    CHECK(outputs[output.key].get<std::string>() == expand(output.value, sandbox, servers));
  }
  // Every failed attempt (a retried step's earlier failures are seen only here).
  std::vector<std::string> attempts, expected_attempts;
  std::istringstream events(run.folder.empty() ? "" : kiln::test::read_file(run.folder + "/events.jsonl"));
  for (std::string line; std::getline(events, line);) {
    json event = json::parse(line, nullptr, false);
    if (event.is_object() && event.value("event", "") == "attemptFailed")
      attempts.push_back(event.value("step", "") + " #" + std::to_string(event.value("attempt", 0)) + ": " +
                         event.value("message", ""));
  }
  for (const auto& attempt : doc.failed_attempts)
    expected_attempts.push_back(attempt.step + " #" + std::to_string(attempt.attempt) + ": " +
                                expand(attempt.message, sandbox, servers));
  CHECK(joined(attempts, "\n") == joined(expected_attempts, "\n"));

  // The sandbox holds exactly the expected entries, each file byte for byte.
  std::set<std::string> found;
  for (auto it = fs::recursive_directory_iterator(sandbox); it != fs::recursive_directory_iterator(); ++it)
    found.insert(it->path().lexically_relative(sandbox).string());
  for (const auto& path : found) CHECK_MESSAGE(expected.count(path), "unexpected entry in the sandbox: " << path);
  for (const auto& entry : expected) {
    const auto& path = entry.first;
    const auto& node = entry.second;
    CHECK_MESSAGE(found.count(path), "missing from the sandbox: " << path);
    if (found.count(path)) check_node(sandbox, node);
  }

  // The bucket holds exactly the fixtures and the uploads (the AWS CLI lists and fetches).
  if (servers.s3) {
    std::map<std::string, std::string> bucket;
    for (const auto& object : doc.objects) bucket[object.key] = object.content;
    for (const auto& object : doc.uploads) bucket[object.key] = object.content;
    std::vector<std::string> keys;
    for (const auto& [key, content] : bucket) keys.push_back(key);
    CHECK(servers.s3->keys() == keys);
    for (const auto& object : bucket) {
      const auto& key = object.first;
      const auto& content = object.second;
      INFO("object " << key);
      std::string stored = servers.s3->get_text(key);
      CHECK(stored.size() == content.size());
      bool same = stored == content;  // not printed: megabytes of binary
      CHECK_MESSAGE(same, "the object's bytes differ from the local file's");
    }
    // Every request kiln made was signed correctly and named the document's bucket owner
    // (the proxy refuses another owner); and kiln made exactly the expected requests.
    std::map<std::string, int> requests;
    for (const auto& record : servers.s3->proxy_log()) {
      INFO("proxied request " << record.dump());
      CHECK(record.value("signed_ok", false));
      CHECK(record.value("expected_owner", json()) == (doc.owner.empty() ? json() : json(doc.owner)));
      std::string path = record.value("path", "");
      ++requests[record.value("method", "") + " " + path.substr(0, path.find('?'))];
    }
    CHECK(counts_text(requests) == counts_text(doc.s3_requests));
  }

  // The servers saw the downloads (nginx logs a request once answered: wait for them).
  if (servers.nginx) {
    for (const auto& get : doc.gets) {
      const auto& path = get.first;
      int count = get.second;
      INFO("GET /" << path);
      std::string line = "GET /" + path + " 200 ";
      kiln::test::wait_until([&] { return count_lines_with(servers.nginx->access_log(), line) >= count; },
                             std::chrono::seconds(5));
      CHECK(count_lines_with(servers.nginx->access_log(), line) == count);
    }
  }
  if (servers.tls) {
    auto requests = servers.tls->requests();
    CHECK(requests.size() == static_cast<size_t>(doc.tls_gets));
    for (const auto& request : requests) CHECK(request["method"] == "GET");
  }

  for (const auto& probe : probes)
    CHECK_MESSAGE(!kiln::file_test::exists(probe), "written outside the sandbox: " << probe);
}

// The candidates: valid Linux/"any" rows of corpus.tsv whose document uses a network action.
std::vector<std::string> candidates() {
  static const std::regex action(R"(action:\s*['"]?(S3Download|S3Upload|WebDownload)\b)");
  std::vector<std::string> out;
  std::ifstream tsv(std::string(KILN_CORPUS_DIR) + "/corpus.tsv");
  std::string line;
  std::getline(tsv, line);  // header
  while (std::getline(tsv, line)) {
    std::vector<std::string> columns;
    std::istringstream row(line);
    for (std::string column; std::getline(row, column, '\t');) columns.push_back(column);
    if (columns.size() < 3 || columns[1] != "valid" || columns[2] == "windows") continue;
    std::string text = kiln::test::read_file(std::string(KILN_CORPUS_DIR) + "/docs/" + columns[0]);
    if (std::regex_search(text, action)) out.push_back(columns[0]);
  }
  return out;
}

const char* const kS3Why = "needs s3rver, /usr/bin/aws and python3-botocore";
const char* const kWebWhy = "needs nginx, /usr/bin/python3 and /usr/bin/openssl";
bool have_web_tools() {
  return kiln::test::have_tool(kiln::test::kNginx) && kiln::test::have_tool(kiln::test::kPython) &&
         kiln::test::have_tool(kiln::test::kOpenssl);
}

std::vector<std::string> run_where(bool s3) {
  std::vector<std::string> ran;
  for (const auto& doc : documents()) {
    if (doc.s3 != s3) continue;
    run_network_document(doc);
    ran.push_back(label(doc));
  }
  return ran;
}

}  // namespace

TEST_CASE("corpus network: the S3 documents of the corpus run against a local S3 and do what they say" *
          KILN_SKIP_UNLESS(kiln::s3test::have_s3_tools_or_ci(), kS3Why)) {
  std::vector<std::string> ran = run_where(true);
  MESSAGE("corpus S3 documents run (" << ran.size() << "):\n  " << joined(ran, "\n  "));
}

TEST_CASE("corpus network: the WebDownload documents of the corpus run against local servers and do what they say" *
          KILN_SKIP_UNLESS(have_web_tools(), kWebWhy)) {
  std::vector<std::string> ran = run_where(false);
  MESSAGE("corpus WebDownload documents run (" << ran.size() << "):\n  " << joined(ran, "\n  "));
}

TEST_CASE("corpus network: every candidate document is run or listed with the reason it is not") {
  std::set<std::string> run_files, not_run_files;
  std::vector<std::string> ran;
  for (const auto& doc : documents()) {
    run_files.insert(doc.file);
    ran.push_back(label(doc) + (doc.s3 ? " [S3]" : " [web]"));
  }
  for (const auto& entry : kNotRun) {
    const auto& file = entry.first;
    CHECK_MESSAGE(!run_files.count(file), file << " is both run and not run");
    CHECK_MESSAGE(not_run_files.insert(file).second, file << " is listed twice");
  }
  std::vector<std::string> all = candidates();
  CHECK(all.size() == run_files.size() + not_run_files.size());
  for (const auto& file : all)
    CHECK_MESSAGE((run_files.count(file) || not_run_files.count(file)), "candidate neither run nor listed: " << file);
  for (const auto& file : run_files) CHECK_MESSAGE(fs::exists(std::string(KILN_CORPUS_DIR) + "/docs/" + file), file);

  std::ostringstream message;
  message << "corpus network documents run (" << ran.size() << " runs of " << run_files.size()
          << " documents; skipped above if the servers are missing):\n  " << joined(ran, "\n  ");
  message << "\nnot run (" << kNotRun.size() << "):";
  for (const auto& [file, reason] : kNotRun) message << "\n  " << file << ": " << reason;
  MESSAGE(message.str());
}

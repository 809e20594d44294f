#include "controller/image/oci_layout.h"

#include <sys/utsname.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "agent/base/hash.h"
#include "agent/base/time.h"

namespace kiln::image {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr const char* kLayerType = "application/vnd.oci.image.layer.v1.tar";
constexpr const char* kConfigType = "application/vnd.oci.image.config.v1+json";
constexpr const char* kManifestType = "application/vnd.oci.image.manifest.v1+json";
constexpr const char* kIndexType = "application/vnd.oci.image.index.v1+json";

// OCI's GOARCH names for this machine.
std::string oci_architecture() {
  struct utsname name {};
  ::uname(&name);
  std::string machine = name.machine;
  if (machine == "x86_64") return "amd64";
  if (machine == "aarch64") return "arm64";
  if (machine == "i686" || machine == "i386") return "386";
  return machine;
}

struct Blob {
  std::string digest;  // sha256:HEX
  uintmax_t size = 0;
};

// Writes `text` as a blob of the layout.
Blob put_blob(const std::string& folder, const std::string& text) {
  Blob blob{"sha256:" + sha256_hex(text), text.size()};
  std::ofstream(folder + "/blobs/sha256/" + blob.digest.substr(7), std::ios::binary) << text;
  return blob;
}

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

OciResult failed(std::string message) {
  OciResult result;
  result.error = std::move(message);
  return result;
}

}  // namespace

OciResult write_oci_layout(const std::string& layer_tarball, const std::string& folder, const OciImage& image) {
  std::error_code ec;
  if (fs::exists(folder, ec)) return failed(folder + " already exists");
  fs::create_directories(folder + "/blobs/sha256", ec);
  if (ec) return failed("cannot create " + folder + ": " + ec.message());

  FileDigest layer_hash = file_digest_hex(layer_tarball, DigestAlgorithm::Sha256);
  if (!layer_hash.error.empty()) return failed("cannot read " + layer_tarball + ": " + layer_hash.error);
  const Blob layer{"sha256:" + layer_hash.hex, fs::file_size(layer_tarball, ec)};
  const std::string layer_blob = folder + "/blobs/sha256/" + layer_hash.hex;
  fs::create_hard_link(layer_tarball, layer_blob, ec);
  if (ec) {
    ec.clear();
    fs::copy_file(layer_tarball, layer_blob, ec);
    if (ec) return failed("cannot copy the layer into " + folder + ": " + ec.message());
  }

  const std::string created = utc_timestamp();
  json labels = {{"org.opencontainers.image.title", image.name}, {"org.opencontainers.image.version", image.version}};
  if (!image.description.empty()) labels["org.opencontainers.image.description"] = image.description;
  json config = {
      {"created", created},
      {"architecture", oci_architecture()},
      {"os", "linux"},
      {"config",
       {{"Env", {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}},
        {"Cmd", {"/bin/sh"}},
        {"Labels", labels}}},
      {"rootfs", {{"type", "layers"}, {"diff_ids", {layer.digest}}}},  // uncompressed: diff_id == digest
      {"history", {{{"created", created}, {"created_by", "kilnctl image build " + image.name + " " + image.version}}}},
  };
  const Blob config_blob = put_blob(folder, config.dump());
  json manifest = {
      {"schemaVersion", 2},
      {"mediaType", kManifestType},
      {"config", {{"mediaType", kConfigType}, {"digest", config_blob.digest}, {"size", config_blob.size}}},
      {"layers", {{{"mediaType", kLayerType}, {"digest", layer.digest}, {"size", layer.size}}}},
      {"annotations", labels},
  };
  const Blob manifest_blob = put_blob(folder, manifest.dump());
  json index = {
      {"schemaVersion", 2},
      {"mediaType", kIndexType},
      {"manifests",
       {{{"mediaType", kManifestType},
         {"digest", manifest_blob.digest},
         {"size", manifest_blob.size},
         {"annotations", {{"org.opencontainers.image.ref.name", image.version}}}}}},
  };
  std::ofstream(folder + "/index.json") << index.dump();
  std::ofstream(folder + "/oci-layout") << json{{"imageLayoutVersion", "1.0.0"}}.dump();

  OciResult verified = verify_oci_layout(folder);
  if (!verified.ok) return verified;
  verified.layer_digest = layer.digest;
  return verified;
}

OciResult verify_oci_layout(const std::string& folder) {
  // Each descriptor's blob: present, of its size, with its digest.
  auto check = [&](const json& descriptor, std::string& text_out, bool keep_text) -> std::string {
    const std::string digest = descriptor.value("digest", "");
    if (digest.rfind("sha256:", 0) != 0) return "descriptor without a sha256 digest";
    const std::string path = folder + "/blobs/sha256/" + digest.substr(7);
    std::error_code ec;
    const uintmax_t size = fs::file_size(path, ec);
    if (ec) return "blob " + digest + " is missing";
    if (size != descriptor.value("size", uintmax_t{0})) return "blob " + digest + " has " + std::to_string(size) + " bytes, not the descriptor's size";
    FileDigest hash = file_digest_hex(path, DigestAlgorithm::Sha256);
    if (hash.hex != digest.substr(7)) return "blob " + digest + " does not match its digest";
    if (keep_text) text_out = read_text(path);
    return {};
  };
  json index = json::parse(read_text(folder + "/index.json"), nullptr, false);
  if (!index.is_object() || !index.contains("manifests") || index["manifests"].empty())
    return failed(folder + "/index.json lists no image");
  OciResult result;
  for (const auto& entry : index["manifests"]) {
    std::string text;
    if (std::string problem = check(entry, text, true); !problem.empty()) return failed(problem);
    json manifest = json::parse(text, nullptr, false);
    if (!manifest.is_object() || !manifest.contains("config") || !manifest.contains("layers"))
      return failed("manifest " + entry.value("digest", "") + " is not an image manifest");
    std::string unused;
    if (std::string problem = check(manifest["config"], unused, false); !problem.empty()) return failed(problem);
    for (const auto& layer : manifest["layers"])
      if (std::string problem = check(layer, unused, false); !problem.empty()) return failed(problem);
    result.manifest_digest = entry.value("digest", "");
  }
  result.ok = true;
  return result;
}

}  // namespace kiln::image

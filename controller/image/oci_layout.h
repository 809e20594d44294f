// Writes an OCI image layout (image-spec v1.1: oci-layout, index.json, blobs/sha256/) for
// a root filesystem tarball: one uncompressed layer (the tarball itself, hard-linked when it
// can be), a config naming the recipe and its version, a manifest, and an index entry
// tagged with the version. Every blob is read back and checked against its digest.
#pragma once
#include <string>

namespace kiln::image {

struct OciImage {
  std::string name;
  std::string version;  // the tag (org.opencontainers.image.ref.name)
  std::string description;
};

struct OciResult {
  bool ok = false;
  std::string error;
  std::string manifest_digest;  // "sha256:..."
  std::string layer_digest;
};

// Writes the layout into `folder` (created; must not exist). `layer_tarball` stays where it
// is; the layer blob is a hard link to it (a copy across filesystems).
OciResult write_oci_layout(const std::string& layer_tarball, const std::string& folder, const OciImage& image);

// Re-reads every blob the index reaches and compares it with its digest and size.
OciResult verify_oci_layout(const std::string& folder);

}  // namespace kiln::image

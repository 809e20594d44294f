// The image pipeline (`kilnctl image build`, docs/image.md): parent → build root → build
// and validate phases of each component → clean → snapshot (rootfs tarball + OCI layout)
// → test root unpacked from the snapshot → test phases → published only if every test
// passed. Each root is booted with systemd-nspawn (or entered with chroot) through
// kilnctl's targets, one component after another in the same boot, each component as its
// own kiln execution. Work roots live under DIR/work/ and are removed on every way out.
#pragma once
#include <atomic>

#include "controller/exit_code.h"
#include "controller/image/image_options.h"

namespace kiln::image {

ctl::ExitCode build_image(const ImageOptions& options, const std::atomic<bool>* cancel);
ctl::ExitCode test_image(const ImageOptions& options, const std::atomic<bool>* cancel);

}  // namespace kiln::image

// `kilnctl image build RECIPE` and `kilnctl image test IMAGE`: their flags (one table each,
// controller/option_table.h) and help.
#pragma once
#include <string>
#include <vector>

namespace kiln::image {

struct ImageOptions {
  std::string recipe;                        // build: the recipe file
  std::string image;                         // test: a rootfs tarball or an OCI image layout folder
  std::vector<std::string> test_components;  // test: --components
  std::string parameters;                    // test: passed to kiln as given
  std::string output;                        // build: kilnctl-image; test: kilnctl-image-test
  std::string agent;                         // kiln binary or .deb; empty: the kiln beside kilnctl
  std::string instance;                      // "", auto, booted, chroot (overrides the recipe)
  std::string cache_directory = "/var/cache/kiln/images";
  std::string mirror = "http://deb.debian.org/debian";
  int reboot_timeout_seconds = 600;
  bool keep_work = false;  // keep the work roots (debugging)
};

enum class ImageCommand { Help, Build, Test };

struct ParsedImageCommandLine {
  ImageCommand command = ImageCommand::Help;
  bool help = false;
  ImageOptions options;
  std::string error;  // non-empty: a usage error (exit 2)
};

// `arguments` starts after "image".
ParsedImageCommandLine parse_image_command_line(const std::vector<std::string>& arguments);
std::string image_help();  // `kilnctl image --help`

}  // namespace kiln::image

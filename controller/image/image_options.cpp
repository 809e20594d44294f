#include "controller/image/image_options.h"

#include "agent/base/text.h"
#include "controller/option_table.h"

namespace kiln::image {
namespace {

using ctl::OptionSpec;

template <std::string ImageOptions::*field>
std::string set_text(ImageOptions& o, const std::string& v) {
  o.*field = v;
  return {};
}

const OptionSpec<ImageOptions> kImageOptions[] = {
    {"output", 'o', "DIR",
     "where the image (rootfs.tar, oci/), image.json and the logs of every stage go (image test: the logs)",
     "kilnctl-image, or kilnctl-image-test", &set_text<&ImageOptions::output>},
    {"components", 'c', "LIST", "image test: comma-separated test component documents, their test phase is run", "",
     [](ImageOptions& o, const std::string& v) {
       o.test_components = split_nonempty(v, ',');
       return std::string();
     }},
    {"parameters", 0, "N=V,...", "image test: parameter values, passed to kiln as given", "",
     &set_text<&ImageOptions::parameters>},
    {"agent", 0, "PATH", "the kiln to install in the roots: a kiln binary, a kiln .deb (installed with the root's dpkg), or the portable kiln .tar.gz (its bin/kiln)",
     "the kiln beside kilnctl", &set_text<&ImageOptions::agent>},
    {"instance", 0, "KIND",
     "booted (systemd-nspawn --boot: systemd as PID 1, real reboots), chroot (no init), or auto (booted when the "
     "root has systemd); overrides the recipe's 'instance'",
     "the recipe's, else auto",
     [](ImageOptions& o, const std::string& v) {
       if (v != "auto" && v != "booted" && v != "chroot") return "--instance: '" + v + "' is not auto, booted or chroot";
       o.instance = v;
       return std::string();
     }},
    {"cache-directory", 0, "DIR", "where debootstrap:SUITE parents are kept between runs", "/var/cache/kiln/images",
     &set_text<&ImageOptions::cache_directory>},
    {"mirror", 0, "URL", "the Debian mirror debootstrap:SUITE uses", "http://deb.debian.org/debian",
     &set_text<&ImageOptions::mirror>},
    {"reboot-timeout", 0, "SECONDS", "how long a root may take to come back after a reboot", "600",
     [](ImageOptions& o, const std::string& v) { return ctl::set_int(o.reboot_timeout_seconds, v, "reboot-timeout", 1); }},
    {"keep-work", 0, "", "keep the build and test roots under DIR/work/ (for debugging); they are removed otherwise",
     "",
     [](ImageOptions& o, const std::string&) {
       o.keep_work = true;
       return std::string();
     }},
    {"help", 'h', "", "show this help and exit", "", nullptr},
};

constexpr std::string_view kExitStatus =
    "Exit status:\n"
    "  0    built: every build, validate and test phase succeeded\n"
    "  1    a build or validate phase failed: no snapshot was made\n"
    "  2    usage error, or the recipe or a component is invalid (FILE:LINE:COL)\n"
    "  12   the agent could not be run in the root\n"
    "  13   a root could not be made, unpacked, snapshotted or cleaned up\n"
    "  14   a test failed: the snapshot is kept in DIR/failed/, not published\n"
    "  130  interrupted by SIGINT (143: SIGTERM); roots and mounts are removed first\n";

}  // namespace

std::string image_help() {
  return "Usage: kilnctl image build RECIPE [--output DIR] [OPTIONS]\n"
         "  or:  kilnctl image test IMAGE --components LIST [OPTIONS]\n"
         "build: the whole image pipeline on this machine. The recipe's parent (a rootfs\n"
         "tarball, an OCI image layout, or debootstrap:SUITE, cached) is unpacked into a\n"
         "fresh root; kiln is installed; each component's build then validate phase runs\n"
         "in it (booted with systemd-nspawn, or chroot); the root is cleaned and\n"
         "snapshotted (rootfs.tar and an OCI layout with one layer); a second root is\n"
         "unpacked from the snapshot and every component's test phase and the test\n"
         "components run there. The image is published under DIR only if all tests\n"
         "pass; otherwise it is kept in DIR/failed/. Needs root.\n"
         "test: unpack IMAGE (a rootfs tarball or an OCI layout) into a fresh root and\n"
         "run the test phase of each component in it.\n"
         "\n"
         "Options:\n" +
         ctl::option_lines(kImageOptions) +
         "\n"
         "Examples:\n"
         "  kilnctl image build examples/image-recipe.yaml --output out\n"
         "  kilnctl image test out/rootfs.tar --components examples/image/check-image.yaml\n"
         "\n" +
         std::string(kExitStatus);
}

ParsedImageCommandLine parse_image_command_line(const std::vector<std::string>& arguments) {
  ParsedImageCommandLine parsed;
  if (arguments.empty() || arguments[0] == "--help" || arguments[0] == "-h") {
    parsed.help = true;
    if (arguments.empty()) parsed.error = "kilnctl image needs build or test; see kilnctl image --help";
    return parsed;
  }
  const std::string& what = arguments[0];
  if (what != "build" && what != "test") {
    parsed.error = "unknown image command '" + what + "'; the image commands are: build, test";
    return parsed;
  }
  parsed.command = what == "build" ? ImageCommand::Build : ImageCommand::Test;
  // The one operand (RECIPE or IMAGE) may stand anywhere among the options.
  std::vector<std::string> rest;
  std::string positional;
  for (size_t i = 1; i < arguments.size(); ++i) {
    const std::string& argument = arguments[i];
    if (argument.empty() || argument[0] != '-') {
      if (!positional.empty()) {
        parsed.error = "kilnctl image " + what + " takes one " + (what == "build" ? "RECIPE" : "IMAGE") +
                       ", not also '" + argument + "'";
        return parsed;
      }
      positional = argument;
      continue;
    }
    rest.push_back(argument);
    bool takes_value = false;
    for (const auto& spec : kImageOptions)
      takes_value = takes_value || ((argument == "--" + std::string(spec.name) ||
                                     (spec.short_name && argument == std::string("-") + spec.short_name)) &&
                                    !spec.argument.empty());
    if (takes_value && i + 1 < arguments.size()) rest.push_back(arguments[++i]);
  }
  parsed.error = ctl::parse_options(kImageOptions, rest, 0, parsed.options, parsed.help, "image");
  if (!parsed.error.empty() || parsed.help) return parsed;
  if (positional.empty()) {
    parsed.error = parsed.command == ImageCommand::Build ? "kilnctl image build needs a RECIPE file"
                                                         : "kilnctl image test needs an IMAGE (rootfs tarball or OCI layout)";
    return parsed;
  }
  if (parsed.command == ImageCommand::Build) {
    parsed.options.recipe = positional;
    if (parsed.options.output.empty()) parsed.options.output = "kilnctl-image";
  } else {
    parsed.options.image = positional;
    if (parsed.options.output.empty()) parsed.options.output = "kilnctl-image-test";
    if (parsed.options.test_components.empty()) parsed.error = "kilnctl image test needs --components LIST";
  }
  return parsed;
}

}  // namespace kiln::image

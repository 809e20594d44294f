# The portable build (-DKILN_PORTABLE=ON): one kiln binary for many Linux distributions,
# the one the packages (cmake/packaging.cmake) are made from. See docs/packaging.md.
#
# Linked statically: yaml-cpp, RE2, libarchive and its compressors, Boost.Program_options
# and libstdc++; spdlog and fmt are used header-only (Debian ships no libspdlog.a or
# libfmt.a). Dynamic: glibc, libgcc_s, libcurl, OpenSSL's libcrypto, and
# the LGPL libraries libarchive uses (nettle, libacl) (docs/DECISIONS.md,
# "Packaging": a static libcurl drags GSSAPI and LDAP, which have no static libraries, and a
# second OpenSSL beside the one the system libcurl loads is unsafe).
#
# Included after the find_package() calls: it repoints the imported targets found there at
# their static archives, so CMakeLists.txt names the same targets in both builds. Only
# Boost has to know before it is found (Boost_USE_STATIC_LIBS, set in CMakeLists.txt).

# spdlog as the report layer links it: the shared library normally, header-only here;
# extra sources of the kiln executable.
set(KILN_SPDLOG spdlog::spdlog)
set(KILN_PORTABLE_SOURCES)
if(NOT KILN_PORTABLE)
  return()
endif()
if(NOT CMAKE_SYSTEM_NAME STREQUAL "Linux")
  message(FATAL_ERROR "KILN_PORTABLE is for Linux (glibc) builds")
endif()

# lib<name>.a or a configure error that names the Debian package to install.
function(kiln_static_archive out name)
  find_library(KILN_STATIC_${name} NAMES lib${name}.a NO_CACHE)
  if(NOT KILN_STATIC_${name})
    message(FATAL_ERROR "KILN_PORTABLE: lib${name}.a not found (scripts/setup.sh --package installs the static -dev packages)")
  endif()
  set(${out} ${KILN_STATIC_${name}} PARENT_SCOPE)
endfunction()

# Points an imported library target at a static archive, for every configuration it has.
function(kiln_use_static_archive target archive)
  get_target_property(configs ${target} IMPORTED_CONFIGURATIONS)
  set_target_properties(${target} PROPERTIES IMPORTED_LOCATION ${archive})
  foreach(config IN LISTS configs)
    set_target_properties(${target} PROPERTIES IMPORTED_LOCATION_${config} ${archive})
    set_property(TARGET ${target} PROPERTY IMPORTED_SONAME_${config})
  endforeach()
endfunction()

kiln_static_archive(yaml_cpp_a yaml-cpp)
kiln_use_static_archive(yaml-cpp ${yaml_cpp_a})

get_target_property(boost_po Boost::program_options LOCATION)
if(NOT boost_po MATCHES "\\.a$")
  message(FATAL_ERROR "KILN_PORTABLE: Boost.Program_options is not static (${boost_po}); Boost_USE_STATIC_LIBS must be ON before find_package(Boost)")
endif()

# RE2 from pkg-config: the imported target lists the .so; the static archive needs threads.
kiln_static_archive(re2_a re2)
set_target_properties(PkgConfig::RE2 PROPERTIES INTERFACE_LINK_LIBRARIES "${re2_a};Threads::Threads")

# libarchive and what `pkg-config --static libarchive` says it needs (compressors, nettle,
# acl, xml2). Only the objects kiln's calls reach are linked: ExtractArchive enables tar and
# zip with gzip, bzip2, xz, lzma and zstd, so xar (libxml2, and through it ICU) stays out.
# nettle and libacl are LGPL: they stay shared (libnettle.so.8 comes with libcurl's GnuTLS
# dependencies anyway, libacl.so.1 with coreutils), so no LGPL code is linked statically.
pkg_check_modules(KILN_ARCHIVE_STATIC REQUIRED libarchive)
kiln_static_archive(archive_a archive)
set(archive_deps)
foreach(name IN LISTS KILN_ARCHIVE_STATIC_STATIC_LIBRARIES)
  if(name STREQUAL "nettle" OR name STREQUAL "acl")
    list(APPEND archive_deps ${name})
  elseif(NOT name STREQUAL "archive")
    kiln_static_archive(dep_a ${name})
    list(APPEND archive_deps ${dep_a})
  endif()
endforeach()
set_target_properties(LibArchive::LibArchive PROPERTIES
  IMPORTED_LOCATION ${archive_a} INTERFACE_LINK_LIBRARIES "${archive_deps}")

# Header-only spdlog over header-only fmt (Debian's spdlog_header_only target still links
# the shared libfmt). Only agent/report/run_log.cpp includes spdlog, so the cost stays there.
set_target_properties(spdlog::spdlog_header_only PROPERTIES
  INTERFACE_LINK_LIBRARIES "Threads::Threads;fmt::fmt-header-only")
set(KILN_SPDLOG spdlog::spdlog_header_only)

# libstdc++ inside the binary (a system one may be older than GCC 12's GLIBCXX_3.4.30);
# symbols of every static archive kept private (--exclude-libs), so the system libcurl
# never binds to kiln's copy of zstd or zlib. libgcc stays the shared libgcc_s.so.1 that
# every glibc system has (glibc itself loads it): the static unwinder of GCC 12 calls
# _dl_find_object (GLIBC_2.35). packaging/portable/glibc_compat.cpp keeps libstdc++'s
# arc4random (GLIBC_2.36) out. The floor left is GLIBC_2.34 (__libc_start_main and the
# pthread functions that moved into libc in 2.34); tests/packaging/run.sh checks it.
add_link_options(-static-libstdc++ -Wl,--exclude-libs,ALL -Wl,--as-needed)
set(KILN_PORTABLE_SOURCES ${CMAKE_SOURCE_DIR}/packaging/portable/glibc_compat.cpp)
message(STATUS "kiln: portable build (static yaml-cpp, RE2, libarchive, Boost.Program_options, libstdc++; shared glibc, libgcc_s, libcurl, libcrypto, nettle, libacl)")

# What `cmake --install` puts where, and the packages CPack makes of it (.deb, .rpm and a
# portable .tar.gz) from the one kiln binary of the build (the portable build:
# cmake/portable.cmake; scripts/package.sh makes all three). See docs/packaging.md.
#
# Paths are relative to the prefix: /usr in the .deb and .rpm, the unpacked folder in the
# tarball (bin/kiln, bin/awstoe, share/..., lib/systemd/system/...).
include(GNUInstallDirs)

install(TARGETS kiln RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
# Invoked as `awstoe` kiln behaves identically, so pipelines can swap binaries.
install(CODE "file(CREATE_LINK kiln \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_BINDIR}/awstoe\" SYMBOLIC)")
# kilnctl (controller/) installs itself, its man page and completion in CMakeLists.txt's
# kilnctl block, after this file (it needs KILN_PACKAGE_DOCS and HELP2MAN from here).
install(DIRECTORY schemas/ DESTINATION ${CMAKE_INSTALL_DATADIR}/kiln/schemas)
# Fleet integrations (docs/fleets.md): the Ansible role and the SSM Command document.
install(DIRECTORY packaging/ansible/ DESTINATION ${CMAKE_INSTALL_DATADIR}/kiln/ansible)
install(DIRECTORY packaging/ssm/ DESTINATION ${CMAKE_INSTALL_DATADIR}/kiln/ssm)
install(FILES examples/hello-world.yml examples/image-recipe.yaml DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples)
install(DIRECTORY examples/image DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples)
install(FILES packaging/copyright DESTINATION ${CMAKE_INSTALL_DOCDIR})
# A template for the boot trigger that `kiln run --reboot-mode system` writes per state
# directory (agent/sys/reboot.cpp); the packages never enable it.
install(FILES packaging/systemd/kiln-resume.service DESTINATION lib/systemd/system)

# Man pages and the bash completion, generated from the built binary's own --help
# (help2man; packaging/completion/generate.sh) so neither can drift from it. Needed for
# packages; a developer build without help2man just skips them.
option(KILN_PACKAGE_DOCS "Generate man pages (help2man) and the bash completion from kiln --help" ${KILN_PORTABLE})
if(KILN_PACKAGE_DOCS)
  find_program(HELP2MAN help2man)
  if(NOT HELP2MAN)
    message(FATAL_ERROR "KILN_PACKAGE_DOCS needs help2man (scripts/setup.sh --package)")
  endif()
  set(man_dir ${CMAKE_BINARY_DIR}/man)
  set(completion ${CMAKE_BINARY_DIR}/completion/kiln)
  add_custom_command(
    OUTPUT ${man_dir}/kiln.1.gz ${completion}
    COMMAND ${CMAKE_SOURCE_DIR}/packaging/man/generate.sh $<TARGET_FILE:kiln> ${man_dir}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_BINARY_DIR}/completion
    COMMAND ${CMAKE_SOURCE_DIR}/packaging/completion/generate.sh $<TARGET_FILE:kiln> ${completion}
    COMMAND ${CMAKE_COMMAND} -E create_symlink kiln ${CMAKE_BINARY_DIR}/completion/awstoe
    DEPENDS kiln ${CMAKE_SOURCE_DIR}/packaging/man/generate.sh ${CMAKE_SOURCE_DIR}/packaging/completion/generate.sh
            ${CMAKE_SOURCE_DIR}/packaging/help-words.sh
    COMMENT "Man pages and bash completion from kiln --help")
  add_custom_target(kiln_package_docs ALL DEPENDS ${man_dir}/kiln.1.gz ${completion})
  install(DIRECTORY ${man_dir}/ DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
  install(FILES ${completion} ${CMAKE_BINARY_DIR}/completion/awstoe
          DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions)
endif()

# Maintainer scripts: packaging/deb/* and packaging/rpm/* with the shared functions of
# packaging/scripts/maintainer-functions.sh put in place of @KILN_MAINTAINER_FUNCTIONS@.
file(READ packaging/scripts/maintainer-functions.sh KILN_MAINTAINER_FUNCTIONS)
set(scripts_dir ${CMAKE_BINARY_DIR}/packaging-scripts)
foreach(script deb/postinst deb/prerm deb/postrm rpm/post.sh rpm/preun.sh rpm/postun.sh)
  configure_file(packaging/${script} ${scripts_dir}/${script} @ONLY
                 FILE_PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)
endforeach()

set(CPACK_PACKAGE_NAME kiln)
set(CPACK_PACKAGE_VENDOR "kiln")
set(CPACK_PACKAGE_CONTACT "kiln maintainers <kiln@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "AWSTOE-compatible component runner (EC2 Image Builder component documents)")
set(CPACK_PACKAGE_DESCRIPTION "kiln validates and runs EC2 Image Builder component documents with AWSTOE's command line and log layout; installed also as awstoe.")
set(CPACK_GENERATOR "DEB;RPM;TGZ")
set(CPACK_STRIP_FILES ON)
# The tarball is relocatable: its own top folder, bin/ share/ lib/ under it (the .deb and
# .rpm install under /usr, their generators' default prefix).
set(CPACK_PACKAGE_FILE_NAME kiln-${PROJECT_VERSION}-linux-${CMAKE_SYSTEM_PROCESSOR})

set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
# Dependencies computed by dpkg-shlibdeps from the binary (libc6, libcurl4, libssl3, ...).
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# `kilnctl image` makes Debian parents with debootstrap and boots roots with systemd-nspawn.
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "debootstrap, systemd-container")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${scripts_dir}/deb/postinst ${scripts_dir}/deb/prerm ${scripts_dir}/deb/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)

set(CPACK_RPM_FILE_NAME RPM-DEFAULT)
set(CPACK_RPM_PACKAGE_LICENSE "see /usr/share/doc/kiln/copyright")
set(CPACK_RPM_PACKAGE_GROUP "System Environment/Base")
set(CPACK_RPM_PACKAGE_DESCRIPTION "${CPACK_PACKAGE_DESCRIPTION}")
set(CPACK_RPM_PACKAGE_AUTOREQ yes)  # requires computed by rpmbuild from the binary
set(CPACK_RPM_PACKAGE_AUTOPROV no)
# No /usr/lib/.build-id links: the package owns exactly the files listed above. And not
# libcurl.so.4(CURL_OPENSSL_4): that symbol version is Debian's (its libcurl is built with
# --enable-versioned-symbols); a libcurl.so.4 without symbol versions satisfies the
# binary's references at run time (glibc's loader accepts unversioned definitions), so
# requiring the versioned name would only refuse installation where it would run.
set(CPACK_RPM_SPEC_MORE_DEFINE [=[%define _build_id_links none
%global __requires_exclude ^libcurl[.]so[.]4[(]CURL_]=])
set(CPACK_RPM_POST_INSTALL_SCRIPT_FILE ${scripts_dir}/rpm/post.sh)
set(CPACK_RPM_PRE_UNINSTALL_SCRIPT_FILE ${scripts_dir}/rpm/preun.sh)
set(CPACK_RPM_POST_UNINSTALL_SCRIPT_FILE ${scripts_dir}/rpm/postun.sh)
# Folders other packages own (the filesystem, systemd, man, bash-completion packages).
set(CPACK_RPM_EXCLUDE_FROM_AUTO_FILELIST_ADDITION
    /usr/lib/systemd /usr/lib/systemd/system /usr/share/man /usr/share/man/man1
    /usr/share/bash-completion /usr/share/bash-completion/completions /usr/share/doc)
include(CPack)

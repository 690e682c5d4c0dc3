# Installation layout and the Debian package (included from the top
# CMakeLists.txt; scripts/package.sh and tests/integration/t19_package.sh).
#
#   cmake --install BUILD [--prefix P]     (default P: /usr/local)
#     P/bin/quorumfs, P/bin/quorumctl
#     P/lib/systemd/system/quorumfs.service  (ExecStart= and --config point into P)
#     ETC/quorumfs/quorumfs.conf             (ETC: /etc when P is /usr, else P/etc)
#     P/share/man/man8/quorumfs.8.gz, quorumctl.8.gz
#     P/share/doc/quorumfs/                  (README.md and docs/)
#   cd BUILD && cpack -G DEB                 quorumfs_VERSION_ARCH.deb, P = /usr
#
# The unit and the config's place depend on the prefix the files are
# installed under, which is only known at install time (cpack installs with
# its own prefix into a staging directory), so they are placed by
# cmake/install-config.cmake, run by `cmake --install`, not at configure time.

# --- man pages, compressed at build time (gzip -n: no name or time stamp,
# so the same sources give the same bytes) ---
find_program(QFS_GZIP gzip REQUIRED)
set(QFS_MAN_PAGES quorumfs.8 quorumctl.8)
set(QFS_MAN_GZ)
foreach(page ${QFS_MAN_PAGES})
  set(src ${CMAKE_SOURCE_DIR}/man/${page})
  set(out ${CMAKE_BINARY_DIR}/man/${page}.gz)
  add_custom_command(OUTPUT ${out}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_BINARY_DIR}/man
    COMMAND sh -c "\"$1\" -9n -c \"$2\" > \"$3\"" sh ${QFS_GZIP} ${src} ${out}
    DEPENDS ${src}
    COMMENT "Compressing man page ${page}"
    VERBATIM)
  list(APPEND QFS_MAN_GZ ${out})
endforeach()
add_custom_target(man_pages ALL DEPENDS ${QFS_MAN_GZ})

install(FILES ${QFS_MAN_GZ} DESTINATION share/man/man8)
install(FILES ${CMAKE_SOURCE_DIR}/README.md DESTINATION share/doc/quorumfs)
install(DIRECTORY ${CMAKE_SOURCE_DIR}/docs/ DESTINATION share/doc/quorumfs)

# --- systemd unit and /etc/quorumfs/quorumfs.conf, placed for the prefix in
# force at install time ---
install(CODE "set(QFS_SOURCE_DIR \"${CMAKE_SOURCE_DIR}\")\nset(QFS_BINARY_DIR \"${CMAKE_BINARY_DIR}\")")
install(SCRIPT ${CMAKE_SOURCE_DIR}/cmake/install-config.cmake)

# --- CPack: the .deb ---
set(QFS_PACKAGE_MAINTAINER "quorumfs maintainers <maintainers@quorumfs.invalid>"
    CACHE STRING "Maintainer field of the Debian package")

# cpack (and `make install`) install what is built and build nothing: a
# package test must not relink binaries that other tests are running.
# scripts/package.sh builds first.
set(CMAKE_SKIP_INSTALL_ALL_DEPENDENCY ON)
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME quorumfs)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_VENDOR "quorumfs")
set(CPACK_PACKAGE_CONTACT "${QFS_PACKAGE_MAINTAINER}")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "replicated cluster state mounted as a directory tree")
# The extended description (the summary above is its first line), one line
# per line of the control file.
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION "quorumfs is a FUSE file system daemon: every node of a cluster mounts the
same tree, conventionally at /cluster.  A file is a key, a directory is a
key prefix; a change returns once a Raft majority of the voters holds it.
.
This package holds the quorumfs daemon, the quorumctl admin CLI, their
manual pages, a systemd unit (Type=notify, watchdog) and the default
configuration /etc/quorumfs/quorumfs.conf.")
# The package's files live under /usr, its config under /etc: cpack installs
# with DESTDIR (not a prefix inside the staging tree) so that absolute paths
# and install-config.cmake's "/usr means /etc" both hold.
set(CPACK_SET_DESTDIR ON)
set(CPACK_INSTALL_PREFIX /usr)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT) # quorumfs_VERSION_ARCH.deb
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${QFS_PACKAGE_MAINTAINER}")
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# Library dependencies come from dpkg-shlibdeps (dpkg-dev: scripts/deps.sh);
# fuse3 brings fusermount3, which unmounting and the unit's ExecStopPost use.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "fuse3")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION TRUE)
# conffiles: dpkg keeps an admin's edits of the config across upgrades and
# removals.  postinst/postrm: systemctl daemon-reload where systemd runs.
configure_file(${CMAKE_SOURCE_DIR}/cmake/debian/conffiles ${CMAKE_BINARY_DIR}/debian/conffiles COPYONLY)
foreach(script postinst prerm postrm)
  file(COPY ${CMAKE_SOURCE_DIR}/cmake/debian/${script} DESTINATION ${CMAKE_BINARY_DIR}/debian
       FILE_PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE
                        WORLD_READ WORLD_EXECUTE)
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/cmake/debian/${script})
endforeach()
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
  ${CMAKE_BINARY_DIR}/debian/conffiles
  ${CMAKE_BINARY_DIR}/debian/postinst
  ${CMAKE_BINARY_DIR}/debian/prerm
  ${CMAKE_BINARY_DIR}/debian/postrm)
include(CPack)

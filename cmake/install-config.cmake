# Run by `cmake --install` (and so by cpack), after packaging.cmake set
# QFS_SOURCE_DIR and QFS_BINARY_DIR: installs the systemd unit and the
# default config for the prefix in force now.  The unit in the source tree
# names the packaged paths (/usr/bin/quorumfs, /etc/quorumfs/quorumfs.conf);
# under another prefix P they become P/bin/quorumfs and P/etc/quorumfs/.
# file(INSTALL) adds $DESTDIR and records the files in install_manifest.txt.
if(CMAKE_INSTALL_PREFIX STREQUAL "/usr")
  set(qfs_etc /etc) # the FHS (and GNUInstallDirs) rule for the system prefix
else()
  set(qfs_etc "${CMAKE_INSTALL_PREFIX}/etc")
endif()

file(READ "${QFS_SOURCE_DIR}/systemd/quorumfs.service" qfs_unit)
string(REPLACE "/usr/bin/quorumfs" "${CMAKE_INSTALL_PREFIX}/bin/quorumfs" qfs_unit "${qfs_unit}")
string(REPLACE "/etc/quorumfs/" "${qfs_etc}/quorumfs/" qfs_unit "${qfs_unit}")
set(qfs_gen "${QFS_BINARY_DIR}/packaging")
file(MAKE_DIRECTORY "${qfs_gen}")
file(WRITE "${qfs_gen}/quorumfs.service" "${qfs_unit}")

file(INSTALL DESTINATION "${CMAKE_INSTALL_PREFIX}/lib/systemd/system" TYPE FILE
     PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ
     FILES "${qfs_gen}/quorumfs.service")
file(INSTALL DESTINATION "${qfs_etc}/quorumfs" TYPE FILE
     PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ
     FILES "${QFS_SOURCE_DIR}/systemd/quorumfs.conf")

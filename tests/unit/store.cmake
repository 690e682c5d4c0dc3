# Unit tests of the command codec and the LMDB store.
if(NOT TARGET PkgConfig::CMOCKA)
  pkg_check_modules(CMOCKA REQUIRED IMPORTED_TARGET cmocka)
endif()

add_executable(test_codec ${CMAKE_CURRENT_LIST_DIR}/test_codec.c)
target_link_libraries(test_codec PRIVATE qfs_util PkgConfig::CMOCKA)
add_test(NAME unit_codec COMMAND test_codec)

add_executable(test_store ${CMAKE_CURRENT_LIST_DIR}/test_store.c)
target_link_libraries(test_store PRIVATE qfs_store qfs_util PkgConfig::CMOCKA Threads::Threads)
add_test(NAME unit_store COMMAND test_store)
set_tests_properties(unit_codec unit_store PROPERTIES TIMEOUT 300)

# Raft log, hard state, cluster meta (src/store/raftlog.c) and keyspace
# snapshot files (src/store/snapshot.c).
add_executable(test_raftlog ${CMAKE_CURRENT_LIST_DIR}/test_raftlog.c)
target_link_libraries(test_raftlog PRIVATE qfs_store qfs_util PkgConfig::CMOCKA Threads::Threads)
add_test(NAME unit_raftlog COMMAND test_raftlog)
add_executable(test_snapshot ${CMAKE_CURRENT_LIST_DIR}/test_snapshot.c)
target_link_libraries(test_snapshot PRIVATE qfs_store qfs_util PkgConfig::CMOCKA Threads::Threads)
add_test(NAME unit_snapshot COMMAND test_snapshot)
set_tests_properties(unit_raftlog unit_snapshot PROPERTIES TIMEOUT 300)

# Backup snapshot files (src/store/backup.c): verify, restore, refusals.
add_executable(test_backup ${CMAKE_CURRENT_LIST_DIR}/test_backup.c)
target_link_libraries(test_backup PRIVATE qfs_store qfs_util PkgConfig::CMOCKA Threads::Threads)
add_test(NAME unit_backup COMMAND test_backup)
set_tests_properties(unit_backup PROPERTIES TIMEOUT 300)

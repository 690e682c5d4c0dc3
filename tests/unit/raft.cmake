# Raft core unit tests (cmocka), included by tests/unit/CMakeLists.txt.
# Each test_raft_<area>.c is one executable sharing the in-test cluster harness.
if(NOT TARGET PkgConfig::CMOCKA)
  pkg_check_modules(CMOCKA REQUIRED IMPORTED_TARGET cmocka)
endif()

set(QFS_RAFT_TESTS election replication snapshot membership read garbage)
foreach(t ${QFS_RAFT_TESTS})
  add_executable(test_raft_${t} ${CMAKE_CURRENT_LIST_DIR}/test_raft_${t}.c
                                ${CMAKE_CURRENT_LIST_DIR}/test_raft_harness.c)
  target_link_libraries(test_raft_${t} PRIVATE qfs_raft PkgConfig::CMOCKA)
  add_test(NAME raft_${t} COMMAND test_raft_${t})
endforeach()

# The directed tests must catch each planted bug (src/raft/raft.h, PLANTED
# BUGS): the same test linked against the bugged core is expected to fail.
foreach(pair "commit_old_term:replication" "vote_no_log_check:election"
             "ack_before_persist:replication")
  string(REPLACE ":" ";" pair ${pair})
  list(GET pair 0 bug)
  list(GET pair 1 t)
  add_executable(test_raft_${t}_bug_${bug} ${CMAKE_CURRENT_LIST_DIR}/test_raft_${t}.c
                                          ${CMAKE_CURRENT_LIST_DIR}/test_raft_harness.c)
  target_link_libraries(test_raft_${t}_bug_${bug} PRIVATE qfs_raft_bug_${bug} PkgConfig::CMOCKA)
  add_test(NAME raft_${t}_catches_bug_${bug} COMMAND test_raft_${t}_bug_${bug})
  # A failing cmocka test leaks what it allocated: under LeakSanitizer that
  # would turn the expected failure into an abort, which WILL_FAIL does not invert.
  set_tests_properties(raft_${t}_catches_bug_${bug} PROPERTIES WILL_FAIL TRUE
    ENVIRONMENT "ASAN_OPTIONS=detect_leaks=0")
endforeach()

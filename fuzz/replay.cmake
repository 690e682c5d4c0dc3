# The fuzz targets as ordinary tests: each target's LLVMFuzzerTestOneInput
# with a plain main() (replay_main.c) over fuzz/regress/TARGET/: the seed
# inputs from real traffic and every input that ever crashed a target.
# A target traps on a broken invariant, so a regression fails the test.
function(qfs_fuzz_replay name)
  add_executable(replay_${name} ${CMAKE_SOURCE_DIR}/fuzz/replay_main.c ${ARGN})
  add_test(NAME fuzz_replay_${name}
           COMMAND replay_${name} ${CMAKE_SOURCE_DIR}/fuzz/regress/${name})
  set_tests_properties(fuzz_replay_${name} PROPERTIES LABELS unit TIMEOUT 120)
endfunction()
qfs_fuzz_replay(net_decode ${CMAKE_SOURCE_DIR}/fuzz/fuzz_net_decode.c)
target_link_libraries(replay_net_decode PRIVATE qfs_net)
qfs_fuzz_replay(cmd_decode ${CMAKE_SOURCE_DIR}/fuzz/fuzz_cmd_decode.c)
target_link_libraries(replay_cmd_decode PRIVATE qfs_util)
qfs_fuzz_replay(snapshot ${CMAKE_SOURCE_DIR}/fuzz/fuzz_snapshot.c)
target_link_libraries(replay_snapshot PRIVATE qfs_store)
qfs_fuzz_replay(backup ${CMAKE_SOURCE_DIR}/fuzz/fuzz_backup.c)
target_link_libraries(replay_backup PRIVATE qfs_store PkgConfig::SODIUM)
